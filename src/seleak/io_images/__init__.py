"""File helpers of the command line: PNG images with seleak metadata, key files, paired image sets.

Nothing here parses arguments (that is :mod:`seleak.cli`) or knows about MI.

Layout, one file per idea (the public names are re-exported here: import them from
:mod:`seleak.io_images`):

:mod:`~seleak.io_images.png`
    reading 8-bit PNG files safely (header check, bounded metadata, animated and 16-bit refusal,
    still-image decoding), writing them, and splitting off the alpha channel.
:mod:`~seleak.io_images.metadata`
    the ``seleak:*`` text fields of an encrypted PNG and the MAC that authenticates them.
:mod:`~seleak.io_images.outputs`
    writing outputs atomically, never over an existing file unless asked, never over a key or input.
:mod:`~seleak.io_images.keyfiles`
    the ``seleak-key-v1`` key file format.
:mod:`~seleak.io_images.image_sets`
    the image sets of ``seleak leak`` (an ``.npz`` file or a folder of images).
"""

from seleak.io_images.image_sets import IMAGE_SUFFIXES, load_image_set
from seleak.io_images.keyfiles import KEY_FILE_HEADER, MAX_KEY_FILE_BYTES, read_key_file, write_key_file
from seleak.io_images.metadata import (
    FORMAT_VERSION,
    META_FIELDS,
    META_PREFIX,
    seal_png_metadata,
    verify_png_metadata,
)
from seleak.io_images.outputs import check_output_path, write_new_file
from seleak.io_images.png import PNG_MODES, PngImage, join_alpha, read_png, split_alpha, write_png

__all__ = [
    "split_alpha",
    "join_alpha",
    "META_PREFIX",
    "FORMAT_VERSION",
    "KEY_FILE_HEADER",
    "PngImage",
    "read_png",
    "write_png",
    "check_output_path",
    "seal_png_metadata",
    "verify_png_metadata",
    "read_key_file",
    "write_key_file",
    "load_image_set",
    "IMAGE_SUFFIXES",
    "PNG_MODES",
    "META_FIELDS",
    "MAX_KEY_FILE_BYTES",
    "write_new_file",
]

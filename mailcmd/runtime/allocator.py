"""The C allocator's settings for a long-running server: memory freed goes back to the system.

glibc's malloc raises its mmap threshold each time a large block is freed, up to
32 MiB, so after one peak of big messages the next ones come from the heap and
per-thread arenas, which it seldom gives back: the peak's memory stays with the
process. Holding the threshold fixed keeps big blocks (messages, their copies in
the database driver) in mappings of their own, unmapped as soon as they are freed.
"""

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

# mallopt's parameter number for the threshold (glibc's malloc.h).
_M_MMAP_THRESHOLD = -3
# glibc's own starting value, held there: blocks from this size up are mapped alone.
MMAP_THRESHOLD = 128 * 1024


def return_big_blocks_to_the_system() -> None:
    """Make blocks of `MMAP_THRESHOLD` bytes and more go back to the system when freed.

    Does nothing where the C library is not glibc (musl, macOS), whose allocators
    do not keep such blocks in the first place.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        log.warning("could not fix malloc's mmap threshold; memory may stay after peaks")

#!/usr/bin/python3
"""A FUSE file system whose reads never return, for tests/never_stuck.rs.

Usage: stuckfs.py MOUNTPOINT RELEASE

Its root holds `name` (reads at once: "stuck\n"), and `temp1_input` and `stuck.prom`, whose
reads block until the file RELEASE exists; then they return "42000\n" and "stuck_ok 1\n". It
stands for a hwmon directory whose driver waits on a dead bus and a textfile directory on a hung
network mount. Runs in the foreground until unmounted.
"""
import errno
import os
import stat
import sys
import time

import fusepy

FILES = {
    "/name": (b"stuck\n", False),
    "/temp1_input": (b"42000\n", True),
    "/stuck.prom": (b"stuck_ok 1\n", True),
}


class Stuck(fusepy.Operations):
    def __init__(self, release):
        self.release_file = release

    def getattr(self, path, fh=None):
        now = time.time()
        if path == "/":
            return dict(st_mode=stat.S_IFDIR | 0o755, st_nlink=2,
                        st_atime=now, st_mtime=now, st_ctime=now)
        if path in FILES:
            # A size the kernel reads up to (sysfs says 4096 too).
            return dict(st_mode=stat.S_IFREG | 0o444, st_nlink=1, st_size=4096,
                        st_atime=now, st_mtime=now, st_ctime=now)
        raise fusepy.FuseOSError(errno.ENOENT)

    def readdir(self, path, fh):
        return [".", ".."] + [p[1:] for p in FILES]

    def open(self, path, flags):
        if path not in FILES:
            raise fusepy.FuseOSError(errno.ENOENT)
        return 0

    def read(self, path, size, offset, fh):
        data, blocks = FILES[path]
        while blocks and not os.path.exists(self.release_file):
            time.sleep(0.05)
        return data[offset:offset + size]


def main():
    mountpoint, release = sys.argv[1], sys.argv[2]
    # direct_io: every read reaches read() (no page cache); threads: a blocked read does not
    # block getattr or readdir.
    fusepy.FUSE(Stuck(release), mountpoint, foreground=True, nothreads=False,
                direct_io=True, allow_other=True)


if __name__ == "__main__":
    main()

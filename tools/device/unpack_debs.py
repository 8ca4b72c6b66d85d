"""Unpacks Debian packages into a prefix where dpkg is missing (another distribution).

A .deb is an ar archive whose member data.tar.{xz,gz,bz2} holds the files; this extracts that
tarball under the prefix, as `dpkg -x PACKAGE PREFIX` does. Standard library only.

usage: python3 unpack_debs.py PREFIX PACKAGE.deb...
"""
import io
import sys
import tarfile


def ar_members(path):
    """Yields (name, bytes) for each member of a System V / GNU ar archive."""
    with open(path, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise SystemExit(f"{path}: not an ar archive (expected a .deb)")
        while True:
            header = f.read(60)
            if len(header) < 60:
                return
            name = header[:16].decode().strip().rstrip("/")
            size = int(header[48:58].decode().strip())
            data = f.read(size)
            if size % 2:
                f.read(1)  # members are 2-byte aligned
            yield name, data


def unpack(deb, prefix):
    for name, data in ar_members(deb):
        if not name.startswith("data.tar"):
            continue
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            # Packages hold absolute symlinks (into /etc/alternatives): keep them as they are.
            if hasattr(tarfile, "fully_trusted_filter"):
                tar.extractall(prefix, filter="fully_trusted")
            else:
                tar.extractall(prefix)
        return
    raise SystemExit(f"{deb}: no data.tar member")


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    prefix = sys.argv[1]
    for deb in sys.argv[2:]:
        unpack(deb, prefix)


if __name__ == "__main__":
    main()

"""Helpers of the data tests: small files, real bytes, the advice's third fix."""

from bnlesson import data

SMALL = "t10k-labels-idx1-ubyte"  # 10 KB: cheap to copy and corrupt


def fill(folder, names=tuple(data.FILES), gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / (name + (".gz" if gz else ""))).write_bytes(b"")
    return folder


def real_bytes(real_data_dir, name):
    return data.read_verified(data._file_in(real_data_dir, name))


def third_fix(message: str) -> str:
    """Return the text of the third way to fix it, on one line."""
    return " ".join(message.split("  3. ")[1].split())

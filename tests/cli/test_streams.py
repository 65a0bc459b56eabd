"""checks.cli.streams: a stderr whose reader has gone drops what is written to it (end to end,
with the user's print()s and a closed stdout: tests/cli/test_app.py)."""

import io
import os

from checks.cli.streams import Forgiving


class GoneReader(io.StringIO):
    """A stream whose reader has gone: every write and flush raises BrokenPipeError."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_forgiving_drops_writes_once_the_reader_has_gone_and_passes_them_before(tmp_path):
    assert Forgiving(GoneReader()).write("lost\n") == len("lost\n")
    Forgiving(GoneReader()).flush()  # no BrokenPipeError
    with (tmp_path / "err.txt").open("w") as file:
        forgiving = Forgiving(file)
        print("kept", file=forgiving)
        forgiving.flush()
        assert forgiving.fileno() == file.fileno() and not forgiving.isatty()
        assert (forgiving.encoding, forgiving.errors) == (file.encoding, file.errors)
        assert os.path.getsize(tmp_path / "err.txt") == len("kept\n")

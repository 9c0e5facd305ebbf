"""The shared wire format and the error tree."""

import pytest

from pm import protocol
from pm.errors import BadRequest, NotFound, PMError, from_wire


def test_round_trip() -> None:
    message = protocol.request(3, "list", {"a": 1})
    assert protocol.decode(protocol.encode(message)) == message
    assert protocol.encode(message).endswith(b"\n")


@pytest.mark.parametrize("line", [b"nope", b"[1]", b"\xff\xfe", b'"str"'])
def test_bad_frames_raise_frame_error(line: bytes) -> None:
    with pytest.raises(protocol.FrameError):
        protocol.decode(line)


def test_errors_survive_the_wire() -> None:
    reply = protocol.reply_error(1, NotFound.code, "no app x")
    error = from_wire(reply["error"]["code"], reply["error"]["message"])
    assert isinstance(error, NotFound) and error.message == "no app x"
    assert isinstance(from_wire("bad_request", "m"), BadRequest)
    assert type(from_wire("made-up", "m")) is PMError


def test_status_strings_are_pm2s() -> None:
    assert str(protocol.Status.WAITING_RESTART) == "waiting restart"
    assert [s.value for s in protocol.Status][:5] == [
        "launching",
        "online",
        "stopping",
        "stopped",
        "errored",
    ]

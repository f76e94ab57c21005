"""`make soak` cannot rot: the soak runs once at a tiny size (20 clients, a few
seconds) against its real stack (gunicorn realtime service, SecantusDB, Redis,
load-client processes), with the same pass criteria as the full run."""
import pytest

from bench import soak


@pytest.mark.timeout(300)
def test_tiny_soak_holds(tmp_path):
    result = soak.run("tiny", tmp_path)
    assert result["connected"] == result["config"]["clients"]
    assert result["error_count"] == 0, result["errors"]
    assert result["messages_acknowledged"] > 0 and result["messages_lost"] == 0
    assert result["rides_completed"] > 0
    assert result["leaks"] == {"sockets": 0, "presence_entries": 0, "socket_ids": 0}
    assert result["log_errors"] == []
    assert result["ok"]

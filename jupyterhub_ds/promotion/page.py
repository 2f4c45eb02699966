"""The promotion page (a Jinja template, autoescaped): lanes, runs and their records."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Promotion</title>
<style>
body{font-family:sans-serif;margin:1.5em;max-width:80em}
table{border-collapse:collapse;width:100%;margin-bottom:1.5em}
td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top;font-size:.9em}
.promoted{color:#075e07}.failed{color:#a00}.running{color:#a60}
details pre{white-space:pre-wrap;max-height:20em;overflow:auto;background:#f6f6f6;padding:.5em}
form{display:inline}
</style></head><body>
<h1>Promotion</h1>
<p>Signed in as <b>{{ user.name }}</b>{% if admin %} (admin){% else %} (read-only){% endif %}.
{% if paused %}<b>All scheduled promotions are paused.</b>{% endif %}</p>
{% if message %}<p role="status">{{ message }}</p>{% endif %}
<h2>Lanes</h2>
<table><tr><th>Project</th><th>Lane</th><th>Schedule</th><th>Next tick (UTC)</th><th>Image</th><th></th></tr>
{% for lane in lanes %}<tr>
<td>{{ lane.project }}</td><td>{{ lane.source }} &rarr; {{ lane.target }}</td><td><code>{{ lane.schedule }}</code></td>
<td>{{ lane.next_tick or "paused" }}</td><td><code>{{ lane.image }}</code></td>
<td>{% if admin %}<form method="post" action="{{ prefix }}api/run-now">
<input type="hidden" name="_xsrf" value="{{ xsrf }}"><input type="hidden" name="project" value="{{ lane.project }}">
<input type="hidden" name="source" value="{{ lane.source }}">
<button type="submit"{% if lane.busy %} disabled{% endif %}>Run now</button></form>{% endif %}
{% if lane.busy %}running…{% endif %}</td></tr>
{% endfor %}</table>
<h2>Runs</h2>
<table><tr><th>Started</th><th>Project</th><th>Lane</th><th>Commit</th><th>Status</th><th>Record</th><th></th></tr>
{% for run in runs %}<tr>
<td>{{ run.started_at }}</td><td>{{ run.project }}</td><td>{{ run.source }} &rarr; {{ run.target }}
{% if run.kind == "rollback" %}(rollback of {{ run.rollback_of }}){% endif %}</td>
<td><code>{{ (run.commit or "")[:12] }}</code></td>
<td class="{{ run.status }}">{{ run.status }} ({{ run.phase }}){% if run.error %}<br>{{ run.error }}{% endif %}</td>
<td><details><summary>{{ run.tag or run.run_id }}</summary>
<p>Image <code>{{ run.image }}</code> digest <code>{{ run.image_digest }}</code>; seed {{ run.seed }};
parameters <code>{{ run.parameters }}</code>; trigger {{ run.trigger }}; {{ run.started_at }} &ndash; {{ run.finished_at }}</p>
<ul>{% for nb in run.notebooks %}<li>{{ nb.path }}: {{ nb.status }} in {{ nb.duration }} s
{% if nb.failed_cell %}, cell {{ nb.failed_cell }}: {{ nb.error }}{% endif %}</li>{% endfor %}</ul>
{% if run.packages and run.packages.problems %}<p>Packages: {{ run.packages.problems|join("; ") }}</p>{% endif %}
<pre>{{ run.pip_freeze }}</pre>{% if run.log_tail %}<pre>{{ run.log_tail }}</pre>{% endif %}
</details></td>
<td>{% if admin and run.status == "promoted" %}<form method="post" action="{{ prefix }}api/rollback">
<input type="hidden" name="_xsrf" value="{{ xsrf }}"><input type="hidden" name="project" value="{{ run.project }}">
<input type="hidden" name="run_id" value="{{ run.run_id }}">
<button type="submit">Roll back {{ run.target }} to this record</button></form>{% endif %}</td>
</tr>{% else %}<tr><td colspan="7">No runs yet.</td></tr>{% endfor %}</table>
</body></html>
"""

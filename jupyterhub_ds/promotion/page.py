"""The service's pages (Jinja templates, autoescaped): the promotion page (lanes, runs and their
records, recent review runs) and a review run's page."""

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
<h2>Review runs</h2>
{# what a run printed (its error too) is on its page, for the project's readers on GitLab only #}
<table class="review-runs"><tr><th>Queued</th><th>Merge request</th><th>Commit</th><th>Status</th></tr>
{% for run in review_runs %}<tr>
<td>{{ run.queued_at }}</td><td>{{ run.project }}!{{ run.mr_iid }}</td><td><code>{{ run.commit[:12] }}</code></td>
<td class="{{ run.status }}"><a href="{{ prefix }}review-runs/{{ run.run_id }}">{{ run.status }}</a></td></tr>
{% else %}<tr><td colspan="4">No review runs yet.</td></tr>{% endfor %}</table>
</body></html>
"""

# A review run's page: served with a CSP that allows no script (web.REVIEW_CSP), so no script here.
REVIEW_RUN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Review run {{ run.run_id }}</title>
<style>
body{font-family:sans-serif;margin:1.5em;max-width:80em}
.passed{color:#075e07}.failed{color:#a00}.running,.queued{color:#a60}.canceled{color:#666}
pre{white-space:pre-wrap;max-height:30em;overflow:auto;background:#f6f6f6;padding:.5em}
li{margin:.3em 0}
</style></head><body>
<h1>Review run of {{ run.project }}!{{ run.mr_iid }}</h1>
<p class="status {{ run.status }}" data-status="{{ run.status }}"><b>{{ run.status }}</b>{% if run.error %}:
{{ run.error }}{% endif %}</p>
<p>Commit <code>{{ run.commit }}</code> of <code>{{ run.source_branch }}</code> (into <code>{{ run.target_branch }}</code>),
<a href="{{ mr_url }}">merge request !{{ run.mr_iid }}</a>.
Image <code>{{ run.image }}</code>{% if run.image_digest %} (<code>{{ run.image_digest }}</code>){% endif %}, seed
{{ run.seed }}, parameters <code>{{ run.parameters }}</code>; {{ run.trigger }}; queued {{ run.queued_at }}{% if
run.started_at %}, started {{ run.started_at }}{% endif %}{% if run.finished_at %}, finished {{ run.finished_at }}{% endif %}.</p>
<h2>Notebooks</h2>
<ul>{% for nb in run.notebooks %}<li class="{{ 'passed' if nb.status == 'ok' else 'failed' }}"><code>{{ nb.path }}</code>:
{{ nb.status }}{% if nb.failed_cell %} at cell {{ nb.failed_cell }}{% endif %}{% if nb.duration %} in {{ nb.duration }} s{% endif %}
{% if nb.html %} &mdash; <a class="executed-notebook" href="{{ notebook_urls[loop.index0] }}">executed notebook</a>{% elif nb.html_error %}
&mdash; not shown: {{ nb.html_error }}{% endif %}
{% if nb.error %}<br><code>{{ nb.error }}</code>{% endif %}
{% if nb.failed_source %}<pre>{{ nb.failed_source }}</pre>{% endif %}</li>
{% else %}<li>{% if run.status in ("queued", "running") %}Not run yet.{% else %}No notebook changed: nothing to run.{% endif %}</li>{% endfor %}
{% for path in run.skipped %}<li><code>{{ path }}</code>: not run (more changed notebooks than a review run takes)</li>{% endfor %}</ul>
{% if run.packages and run.packages.problems %}<h2>Packages</h2><ul>{% for p in run.packages.problems %}<li>{{ p }}</li>{% endfor %}</ul>{% endif %}
{% if run.log_tail %}<details><summary>Log of the clean run</summary><pre>{{ run.log_tail }}</pre></details>{% endif %}
<p><a href="{{ prefix }}">Promotion and review runs</a></p>
</body></html>
"""

import Mustache

/// The web app's pages: Mustache templates (every `{{value}}` HTML-escaped) kept in the binary, with the style
/// sheet and the script they use. No external CDN: the process serves everything, and the Content-Security-
/// Policy allows only its own origin.
enum Pages {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        do {
            try library.register(layout, named: "layout")
            try library.register(login, named: "login")
            try library.register(status, named: "status")
            try library.register(events, named: "events")
            try library.register(label, named: "label")
            try library.register(error, named: "error")
            try library.register(model, named: "model")
        } catch {
            preconditionFailure("a built-in template does not parse: \(error)")
        }
        return library
    }()

    static func render(_ name: String, _ values: [String: Any]) -> String {
        guard let page = library.render(values, withTemplate: name) else {
            preconditionFailure("no template \(name)")
        }
        return page
    }

    static let layout = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · DogDoor</title>
        <link rel="stylesheet" href="/static/app.css">
        <script src="/static/app.js" defer></script>
        </head><body>
        <header><strong>DogDoor</strong>
        {{#user}}<nav><a href="/">Door</a> <a href="/events">Timeline</a> <a href="/label">Label</a> <a href="/model">Model</a>
        <form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="{{csrf}}">
        <button class="link">Log out {{user}}</button></form></nav>{{/user}}
        </header>
        <main>
        {{#flash}}<p class="flash {{kind}}" role="status">{{text}}</p>{{/flash}}
        {{$body}}{{/body}}
        </main></body></html>
        """

    static let login = """
        {{<layout}}{{$body}}
        <h1>Log in</h1>
        <form method="post" action="/login" class="card">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Name <input name="user" autocomplete="username" required maxlength="32" value="{{name}}"></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required maxlength="72"></label>
        <button>Log in</button>
        </form>
        {{/body}}{{/layout}}
        """

    static let status = """
        {{<layout}}{{$body}}
        <section class="card" id="status" data-refresh="/api/status">
        <h1>The door is <span id="latch" class="latch {{latch}}">{{latch}}</span></h1>
        <dl>
        <dt>Mode</dt><dd id="mode">{{mode}}{{#remaining}} ({{remaining}} left){{/remaining}}</dd>
        <dt>Camera</dt><dd id="camera">{{camera}}{{#fps}}, {{fps}} frames/s{{/fps}}</dd>
        <dt>Scoring</dt><dd id="inference">{{inference}}</dd>
        <dt>Model</dt><dd>{{model}}</dd>
        <dt>Last decision</dt><dd id="decision">{{decision}}</dd>
        </dl>
        {{^reachable}}<p class="flash error">The door daemon does not answer: {{problem}}</p>{{/reachable}}
        </section>
        <section class="card">
        <h2>Steer the door</h2>
        <form method="post" action="/door" class="buttons">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <button name="action" value="lock">Lock</button>
        <button name="action" value="auto">Auto (recognise Bo)</button>
        <span class="unlock"><button name="action" value="unlock">Unlock for</button>
        <input name="minutes" type="number" min="1" max="1440" value="10" aria-label="minutes"> min</span>
        </form>
        </section>
        {{#live}}<section class="card"><h2>The camera now</h2>
        <img id="live" src="/latest.jpg" alt="the latest frame the door scored" data-refresh="/latest.jpg"></section>{{/live}}
        {{#hasDecisions}}<section class="card"><h2>Last decisions</h2><ol class="timeline">{{/hasDecisions}}
        {{#decisions}}<li class="{{category}}"><time>{{time}}</time> <strong>{{kind}}</strong>
        <div class="scores">probabilities {{scoreText}}</div>{{#rule}}<div class="rule">{{rule}}</div>{{/rule}}</li>{{/decisions}}
        {{#hasDecisions}}</ol><a href="/events">All events</a></section>{{/hasDecisions}}
        {{#latest}}
        <section class="card"><h2>Latest snapshot</h2>
        <figure><img src="/snapshots/{{snapshot}}" alt="snapshot of {{kind}} at {{time}}" loading="lazy">
        <figcaption>{{kind}} · {{time}} · {{scoreText}}</figcaption></figure></section>
        {{/latest}}
        {{/body}}{{/layout}}
        """

    static let events = """
        {{<layout}}{{$body}}
        <h1>Timeline</h1>
        <nav class="filters">{{#filters}}<a href="/events{{#value}}?filter={{value}}{{/value}}" {{#selected}}aria-current="page"{{/selected}}>{{label}}</a> {{/filters}}</nav>
        <table class="days"><thead><tr><th>Day</th><th>Bo's visits</th><th>Unlocks</th><th>Refused</th><th>Commands</th><th>Faults</th><th>Sighting to unlock</th></tr></thead>
        <tbody>{{#days}}<tr><td>{{day}}</td><td>{{visits}}</td><td>{{unlocks}}</td><td>{{refused}}</td><td>{{commands}}</td><td>{{faults}}</td><td>{{wait}}</td></tr>{{/days}}</tbody></table>
        <ol class="timeline">
        {{#entries}}<li class="{{category}}"><time>{{time}}</time> <strong>{{kind}}</strong>{{#by}} by {{by}}{{/by}}
        {{#rule}}<div class="rule">{{rule}}</div>{{/rule}}{{#scoreText}}<div class="scores">scores {{scoreText}}</div>{{/scoreText}}
        {{#snapshot}}<a href="/snapshots/{{snapshot}}"><img src="/snapshots/{{snapshot}}" alt="snapshot" loading="lazy"></a>{{/snapshot}}</li>
        {{/entries}}
        {{^entries}}<li>No events{{#filterName}} of this kind{{/filterName}} yet.</li>{{/entries}}
        </ol>
        {{/body}}{{/layout}}
        """

    static let label = """
        {{<layout}}{{$body}}
        <h1>Label the door's photos</h1>
        <p>Each photo you label is copied into <code>{{directory}}</code> in the trainer's layout; retrain with
        <code>dogdoor-train --data {{directory}} --data YOUR-PHOTOS</code>.</p>
        <p class="counts">{{#counts}}<span>{{folder}}: {{count}}</span> {{/counts}}</p>
        <nav class="filters"><a href="/label" {{^showAll}}aria-current="page"{{/showAll}}>Not labelled yet</a>
        <a href="/label?show=all" {{#showAll}}aria-current="page"{{/showAll}}>All</a></nav>
        <ul class="labels">
        {{#snapshots}}<li class="card" id="{{snapshot}}">
        <img src="/snapshots/{{snapshot}}" alt="snapshot of {{kind}} at {{time}}" loading="lazy">
        <div>{{kind}} · <time>{{time}}</time>{{#scoreText}} · scores {{scoreText}}{{/scoreText}}</div>
        {{#label}}<div class="label">Labelled <strong>{{label}}</strong> by {{labelledBy}}</div>{{/label}}
        <form method="post" action="/label" class="buttons">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="snapshot" value="{{snapshot}}">
        {{#showAll}}<input type="hidden" name="show" value="all">{{/showAll}}
        <button name="label" value="positive">{{positive}}</button>
        <button name="label" value="negative">{{negative}}</button>
        <button name="label" value="skip" class="secondary">Skip</button>
        </form></li>
        {{/snapshots}}
        {{^snapshots}}<li>No photos to label{{^showAll}} (all are labelled){{/showAll}}.</li>{{/snapshots}}
        </ul>
        {{/body}}{{/layout}}
        """

    static let model = """
        {{<layout}}{{$body}}
        <h1>The model</h1>
        <section class="card"><dl>
        <dt>File</dt><dd><code>{{path}}</code></dd>
        <dt>Tensors SHA-256</dt><dd><code>{{sha256}}</code></dd>
        {{#summary}}
        <dt>Opens for</dt><dd>{{positive}} (not {{negative}})</dd>
        <dt>Threshold</dt><dd>{{threshold}}</dd>
        <dt>Network</dt><dd>{{architecture}}, input {{input}}</dd>
        <dt>Signed</dt><dd>{{signed}}</dd>
        {{/summary}}
        </dl>
        {{#problem}}<p class="flash error">{{problem}}</p>{{/problem}}
        {{#report}}<p><a href="/model/report">The training report</a></p>{{/report}}
        {{^report}}<p>No training report beside the model (dogdoor-train writes <code>MODEL.report.html</code>; copy it next to the model file to see it here).</p>{{/report}}
        </section>
        {{#summary}}<section class="card"><h2>Training</h2>
        <table class="days">{{#training}}<tr><th>{{key}}</th><td>{{value}}</td></tr>{{/training}}</table></section>{{/summary}}
        {{/body}}{{/layout}}
        """

    static let error = """
        {{<layout}}{{$body}}
        <h1>{{title}}</h1>
        <p class="flash error">{{message}}</p>
        <p><a href="/">Back to the door</a></p>
        {{/body}}{{/layout}}
        """

    static let styleSheet = """
        :root { color-scheme: light dark; --accent: #2b6cb0; }
        body { font: 16px/1.4 system-ui, sans-serif; margin: 0; }
        header { display: flex; justify-content: space-between; align-items: center; padding: .6rem 1rem;
          background: var(--accent); color: white; flex-wrap: wrap; }
        header a, header .link { color: white; margin-left: .8rem; }
        main { max-width: 46rem; margin: 0 auto; padding: .5rem 1rem 2rem; }
        .card { border: 1px solid #8884; border-radius: .5rem; padding: .5rem 1rem; margin: 1rem 0; }
        label { display: block; margin: .5rem 0; } input { font: inherit; padding: .3rem; }
        button { font: inherit; padding: .5rem .9rem; margin: .25rem .25rem .25rem 0; border-radius: .4rem;
          border: 1px solid var(--accent); background: var(--accent); color: white; }
        button.link { background: none; border: none; text-decoration: underline; padding: 0; }
        form.inline { display: inline; } .unlock input { width: 5rem; }
        dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .2rem 1rem; }
        dt { font-weight: 600; } dd { margin: 0; overflow-wrap: anywhere; }
        code, .rule, time { overflow-wrap: anywhere; }
        .latch.unlocked { color: #c05621; } .latch.locked { color: #2f855a; }
        .flash { padding: .5rem; border-radius: .4rem; background: #2f855a22; } .flash.error { background: #c5302022; }
        img { max-width: 100%; height: auto; } .timeline img { max-width: 12rem; display: block; }
        .timeline { list-style: none; padding: 0; } .timeline li { border-left: 4px solid #8886; padding: .3rem .6rem; margin: .5rem 0; }
        .timeline li.bo { border-color: #2f855a; } .timeline li.refused { border-color: #c05621; }
        .timeline li.fault { border-color: #c53030; } .timeline li.manual { border-color: var(--accent); }
        .days { border-collapse: collapse; width: 100%; overflow-x: auto; display: block; }
        .days td, .days th { padding: .2rem .5rem; border-bottom: 1px solid #8884; text-align: right; }
        .days td:first-child { white-space: nowrap; }
        .filters a[aria-current] { font-weight: 700; }
        .labels { list-style: none; padding: 0; } .labels img { max-width: 100%; }
        button.secondary { background: none; color: inherit; border-color: #8888; }
        .counts span { margin-right: 1rem; }
        """

    /// Refreshes the status card every two seconds from `/api/status` (the page works without it).
    static let script = """
        "use strict";
        (function () {
          const card = document.getElementById("status");
          if (!card) return;
          const set = (id, text) => { const el = document.getElementById(id); if (el) el.textContent = text; };
          async function refresh() {
            try {
              const answer = await fetch(card.dataset.refresh, { credentials: "same-origin" });
              if (!answer.ok) return;
              const s = await answer.json();
              set("latch", s.latch); document.getElementById("latch").className = "latch " + s.latch;
              set("mode", s.mode + (s.unlock_remaining_s ? " (" + Math.round(s.unlock_remaining_s) + " s left)" : ""));
              set("camera", s.camera + (s.fps ? ", " + s.fps.toFixed(1) + " frames/s" : ""));
              set("inference", s.inference_ms ? s.inference_ms.toFixed(0) + " ms per frame" : "-");
              if (s.last_decision) set("decision", s.last_decision.kind + ": " + s.last_decision.rule);
            } catch (e) { /* the next refresh tries again */ }
          }
          const live = document.getElementById("live");
          function reloadFrame() { if (live) live.src = live.dataset.refresh + "?t=" + Date.now(); }
          setInterval(function () { refresh(); reloadFrame(); }, 2000);
        })();
        """
}

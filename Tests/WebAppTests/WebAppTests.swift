import Control
import DecisionCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LatchLink
import Logging
import Support
import Synchronization
import TestSupport
import Testing

@testable import WebApp
@testable import WebCore

/// A daemon stand-in: answers like dogdoord's control socket and remembers what it was asked.
final class FakeDoor: DoorLink {
    struct State {
        var mode: DoorMode.Kind = .auto
        var latch: LatchStatus = .locked
        var commands: [(ControlCommand, String?)] = []
        var reachable = true
        var modelPath = "/etc/dogdoor/model.safetensors"
    }
    let state = Mutex(State())

    var commands: [(ControlCommand, String?)] { state.withLock { $0.commands } }

    func send(_ command: ControlCommand, origin: String?) async throws -> ControlResponse {
        try state.withLock { state in
            guard state.reachable else { throw ControlError(socket: "/run/test.sock", reason: .notRunning) }
            if command != .status { state.commands.append((command, origin)) }
            switch command {
            case .status: break
            case .lock: (state.mode, state.latch) = (.locked, .locked)
            case .auto: (state.mode, state.latch) = (.auto, .locked)
            case .unlock: (state.mode, state.latch) = (.unlocked, .unlocked)
            }
            return .success(
                DaemonStatus(
                    mode: state.mode, unlockRemainingSeconds: state.mode == .unlocked ? 300 : nil,
                    latch: state.latch, camera: .streaming, framesPerSecond: 5, inferenceMilliseconds: 140,
                    curfew: nil,
                    lastDecision: .init(
                        time: "2026-12-06T08:00:02.000+01:00", kind: "unlock", rule: "3 of last 5 >= 0.90",
                        scores: [0.95, 0.97, 0.99]),
                    model: .init(path: state.modelPath, sha256: "ab", threshold: 0.9),
                    frames: .init(seen: 1_000, evaluated: 400, corrupt: 1, dropped: 2, still: 597),
                    counters: Self.counters))
        }
    }
}

extension FakeDoor {
    static let counters: DaemonCounters = {
        var counters = DaemonCounters()
        counters.unlocksByVote = 2
        counters.modelLoadSeconds = 0.25
        for ms in [60.0, 140, 150, 250] { counters.inference.record(milliseconds: ms) }
        return counters
    }()
}

/// A web app over a temporary events directory (three days of events, two snapshots) and a users file with
/// one user, `owner` / `correct horse`.
struct WebFixture {
    let directory: TemporaryDirectory
    let door = FakeDoor()
    let app: WebApp
    static let password = "correct horse"
    static let snapshot = "20261206T070002.000Z-unlock.jpg"
    static let snapshotBytes: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + Array("not really a JPEG".utf8) + [0xFF, 0xD9]

    init() throws {
        directory = TemporaryDirectory("webapp")
        let events = directory.path + "/events"
        try makeDirectories(events + "/snapshots", permissions: 0o750)
        let lines = [
            #"{"time":"2026-12-05T07:00:00.000+01:00","kind":"start","mode":"auto","door":"locked","scores":[]}"#,
            #"{"time":"2026-12-05T07:00:01.000+01:00","kind":"camera","mode":"auto","door":"locked","scores":[],"state":"streaming"}"#,
            #"{"time":"2026-12-05T08:00:00.000+01:00","kind":"near_miss","mode":"auto","door":"locked","scores":[0.5,0.93],"rule":"best vote 1 of the 3 needed","frame":7}"#,
            #"{"time":"2026-12-05T09:00:00.000+01:00","kind":"camera","mode":"auto","door":"locked","scores":[],"state":"stalled"}"#,
            #"{"time":"2026-12-06T08:00:02.000+01:00","kind":"unlock","mode":"auto","door":"unlocked","scores":[0.95,0.97,0.99],"rule":"3 of last 5 >= 0.90","frame":42,"snapshot":"\#(Self.snapshot)","first_seen_s":1.25}"#,
            #"{"time":"2026-12-06T08:00:14.000+01:00","kind":"relock","mode":"auto","door":"locked","scores":[],"rule":"hold expired"}"#,
            #"{"time":"2026-12-06T08:59:00.000+01:00","kind":"unlock","mode":"unlocked","door":"unlocked","scores":[],"rule":"manual unlock for 600 s"}"#,
            #"{"time":"2026-12-06T09:00:00.000+01:00","kind":"relock","mode":"locked","door":"locked","scores":[],"rule":"lock command after 60.0 s open"}"#,
            #"{"time":"2026-12-06T09:00:00.000+01:00","kind":"command","mode":"locked","door":"locked","scores":[],"command":"lock","ok":true,"uid":0,"pid":1,"by":"web:owner"}"#,
            #"{"time":"2026-12-06T09:30:00.000+01:00","kind":"rejected_locked","mode":"locked","door":"locked","scores":[0.92,0.95,0.91],"rule":"locked","frame":80,"snapshot":"20261206T083000.000Z-rejected_locked.jpg"}"#,
            #"{"time":"2026-12-06T10:00:00.0"#,  // torn by a crash
        ]
        try AtomicFile.write(lines.joined(separator: "\n"), to: events + "/events.jsonl")
        try AtomicFile.write(Self.snapshotBytes, to: events + "/snapshots/" + Self.snapshot)
        try AtomicFile.write(
            Self.snapshotBytes, to: events + "/snapshots/20261206T083000.000Z-rejected_locked.jpg")
        var users = PasswordFile()
        try users.setPassword(Self.password, for: "owner", cost: 4)
        try users.save(to: directory.path + "/users")
        var settings = WebSettings()
        settings.passwordFile = directory.path + "/users"
        settings.eventsDirectory = events
        settings.latestFrame = directory.path + "/latest.jpg"
        settings.dataset = DatasetLabel(
            directory: directory.path + "/dataset", positiveClass: "bo", negativeClass: "not_bo", validFraction: 0.5)
        app = WebApp(settings: settings, door: door, logger: Logger(label: "test"))
    }

    /// Runs `body` against the app with a browser-like client that keeps its cookie.
    func run(_ body: @Sendable (Browser) async throws -> Void) async throws {
        try await app.application().test(.router) { client in
            try await body(Browser(client: client))
        }
    }
}

/// Keeps the session cookie between requests, as a browser does, and finds the form token in pages.
final class Browser: Sendable {
    let client: any TestClientProtocol
    let cookie = Mutex<String?>(nil)

    init(client: any TestClientProtocol) { self.client = client }

    struct Page {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: String

        /// The CSRF token of the first form on the page.
        var token: String? {
            guard let range = body.range(of: #"name="csrf" value=""#) else { return nil }
            return String(body[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    @discardableResult
    func get(_ uri: String) async throws -> Page {
        try await request(uri, method: .get, form: nil)
    }

    @discardableResult
    func post(_ uri: String, _ form: [(String, String)]) async throws -> Page {
        let body = form.map { "\($0.0)=\(Self.escape($0.1))" }.joined(separator: "&")
        return try await request(uri, method: .post, form: body)
    }

    func request(_ uri: String, method: HTTPRequest.Method, form: String?) async throws -> Page {
        var headers: HTTPFields = [:]
        if let cookie = cookie.withLock({ $0 }) { headers[.cookie] = cookie }
        if form != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
        return try await client.execute(
            uri: uri, method: method, headers: headers, body: form.map { ByteBuffer(string: $0) }
        ) { response in
            if let set = response.headers[.setCookie], let pair = set.split(separator: ";").first {
                self.cookie.withLock { $0 = String(pair) }
            }
            return Page(status: response.status, headers: response.headers, body: String(buffer: response.body))
        }
    }

    /// Logs in as the fixture's owner.
    func logIn(password: String = WebFixture.password) async throws -> Page {
        let token = try #require(try await get("/login").token)
        return try await post("/login", [("user", "owner"), ("password", password), ("csrf", token)])
    }

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }
}

@Suite("dogdoor-web over HTTP")
struct WebAppTests {
    @Test("the login page sets a strict, HttpOnly session cookie and the security headers")
    func loginPage() async throws {
        try await WebFixture().run { browser in
            let page = try await browser.get("/login")
            #expect(page.status == .ok)
            #expect(page.token?.count == 64)
            let cookie = try #require(page.headers[.setCookie])
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
            // Before a login there is no session to remember: only the form's own token cookie.
            #expect(cookie.hasPrefix("dogdoor_login=") && !cookie.contains("dogdoor_session"))
            #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true)
            #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            #expect(!page.body.contains("http://") && !page.body.contains("https://"), "no external resources")
            // The style sheet and the script are the process's own, served without a login.
            let css = try await browser.get("/static/app.css")
            #expect(css.status == .ok && css.headers[.contentType] == "text/css; charset=utf-8")
            let script = try await browser.get("/static/app.js")
            #expect(script.status == .ok && script.body.contains("setInterval"))
        }
    }

    @Test("without a login, pages send to the login page and the API and commands are refused")
    func loginRequired() async throws {
        let fixture = try WebFixture()
        let door = fixture.door
        try await fixture.run { browser in
            let home = try await browser.get("/")
            #expect(home.status == .seeOther && home.headers[.location] == "/login")
            for path in ["/events", "/label", "/snapshots/\(WebFixture.snapshot)"] {
                #expect(try await browser.get(path).headers[.location] == "/login", "\(path)")
            }
            #expect(try await browser.get("/api/status").status == .unauthorized)
            #expect(try await browser.get("/api/events").status == .unauthorized)
            #expect(try await browser.post("/door", [("action", "unlock"), ("minutes", "5")]).status == .unauthorized)
        }
        #expect(door.commands.isEmpty)
    }

    @Test("a login needs the right password and the form's token, and gets a new session")
    func login() async throws {
        try await WebFixture().run { browser in
            let wrong = try await browser.logIn(password: "wrong horse")
            #expect(wrong.status == .unauthorized && wrong.body.contains("Wrong name or password"))
            #expect(
                try await browser.post("/login", [("user", "owner"), ("password", WebFixture.password)]).status
                    == .badRequest)
            let forged = try await browser.post(
                "/login",
                [("user", "owner"), ("password", WebFixture.password), ("csrf", String(repeating: "0", count: 64))])
            #expect(forged.status == .forbidden)
            let before = browser.cookie.withLock { $0 }
            let right = try await browser.logIn()
            #expect(right.status == .seeOther && right.headers[.location] == "/")
            let session = try #require(right.headers[.setCookie])
            #expect(
                session.hasPrefix("dogdoor_session=") && session.contains("HttpOnly")
                    && session.contains("SameSite=Strict"))
            #expect(browser.cookie.withLock { $0 } != before, "the session id changes at login")
            #expect(try await browser.get("/").status == .ok)
        }
    }

    @Test("five failed logins lock the name out, even with the right password afterwards")
    func lockout() async throws {
        try await WebFixture().run { browser in
            for _ in 0..<4 { #expect(try await browser.logIn(password: "guess").body.contains("Wrong name")) }
            #expect(try await browser.logIn(password: "guess").body.contains("Too many failed logins"))
            let refused = try await browser.logIn()
            #expect(refused.status == .unauthorized && refused.body.contains("Try again in 15 minutes"))
            #expect(try await browser.get("/").headers[.location] == "/login")
        }
    }

    @Test("the status page and the JSON status show the daemon's state")
    func status() async throws {
        let fixture = try WebFixture()
        let latestPath = fixture.directory.file("latest.jpg")
        try await fixture.run { browser in
            _ = try await browser.logIn()
            let page = try await browser.get("/")
            #expect(page.body.contains(#"<span id="latch" class="latch locked">locked</span>"#))
            #expect(page.body.contains("140 ms per frame"))
            #expect(page.body.contains("/snapshots/20261206T083000.000Z-rejected_locked.jpg"), "the latest snapshot")
            #expect(
                page.body.contains("<h2>Last decisions</h2>") && page.body.contains("probabilities 0.92, 0.95, 0.91"))
            #expect(!page.body.contains("The camera now"), "no live view before the daemon wrote a frame")
            #expect(try await browser.get("/latest.jpg").status == .notFound)
            try AtomicFile.write(WebFixture.snapshotBytes, to: latestPath)
            #expect(try await browser.get("/").body.contains(#"<img id="live" src="/latest.jpg""#))
            let live = try await browser.get("/latest.jpg")
            #expect(live.status == .ok && live.headers[.contentType] == "image/jpeg")
            let json = try JSONValue.parse(try await browser.get("/api/status").body)
            #expect(json["latch"] == "locked" && json["mode"] == "auto" && json["camera"] == "streaming")
        }
    }

    @Test("commands need the form's token, reach the daemon on behalf of the user, and show its answer")
    func commands() async throws {
        let fixture = try WebFixture()
        let door = fixture.door
        try await fixture.run { browser in
            _ = try await browser.logIn()
            let token = try #require(try await browser.get("/").token)
            #expect(try await browser.post("/door", [("action", "lock")]).status == .badRequest)
            let forged = try await browser.post("/door", [("action", "lock"), ("csrf", "x")])
            #expect(forged.status == .forbidden && forged.body.contains("the form has expired; reload the page"))
            #expect(forged.headers[.contentType] == "text/html; charset=utf-8", "a person gets a page, not JSON")
            #expect(door.commands.isEmpty)
            let unlocked = try await browser.post("/door", [("action", "unlock"), ("minutes", "5"), ("csrf", token)])
            #expect(unlocked.status == .seeOther)
            let page = try await browser.get("/")
            #expect(page.body.contains("Unlocked for 5 min. The door is unlocked."))
            #expect(page.body.contains(#"class="latch unlocked""#))
            #expect(!(try await browser.get("/").body.contains("Unlocked for 5 min")), "the message is shown once")
            _ = try await browser.post("/door", [("action", "lock"), ("csrf", token)])
            _ = try await browser.post("/door", [("action", "auto"), ("csrf", token)])
            #expect(
                try await browser.post("/door", [("action", "unlock"), ("minutes", "0"), ("csrf", token)]).status
                    == .badRequest)
            #expect(try await browser.post("/door", [("action", "open"), ("csrf", token)]).status == .badRequest)
            door.state.withLock { $0.reachable = false }
            _ = try await browser.post("/door", [("action", "lock"), ("csrf", token)])
            #expect(try await browser.get("/").body.contains("The door daemon did not answer"))
        }
        let sent = door.commands
        #expect(sent.map(\.0) == [.unlock(seconds: 300), .lock, .auto])
        #expect(sent.allSatisfy { $0.1 == "web:owner" })
    }

    @Test("the timeline filters by kind, counts per day, and skips a torn line")
    func timeline() async throws {
        try await WebFixture().run { browser in
            _ = try await browser.logIn()
            let all = try await browser.get("/events")
            #expect(all.body.components(separatedBy: "<li class=").count - 1 == 10)
            let bo = try await browser.get("/events?filter=bo")
            #expect(bo.body.contains("3 of last 5 &gt;= 0.90") && !bo.body.contains("best vote"))
            // Bo's door closing after him is his visit; a person's lock is not.
            #expect(bo.body.contains("hold expired") && !bo.body.contains("lock command"))
            let manual = try await browser.get("/events?filter=manual").body
            #expect(manual.contains("lock command after 60.0 s open"))
            #expect(manual.contains("<strong>command: lock</strong> by web:owner"), "what was asked, and by whom")
            let faults = try await browser.get("/events?filter=fault")
            #expect(faults.body.components(separatedBy: #"<li class="fault">"#).count - 1 == 1, "a stalled camera only")
            #expect(faults.body.contains("<strong>camera</strong>") && !faults.body.contains("<strong>unlock</strong>"))
            #expect(try await browser.get("/events?filter=nonsense").status == .badRequest)
            let json = try JSONValue.parse(try await browser.get("/api/events?filter=manual").body)
            #expect(json["events"]?.arrayValue?.compactMap { $0["by"]?.stringValue } == ["web:owner"])
            #expect(json["events"]?.arrayValue?.count == 3, "the command, the manual relock and the manual unlock")
            let days = try #require(json["days"]?.arrayValue)
            #expect(days.map { $0["day"] } == ["2026-12-06", "2026-12-05"])
            #expect(
                days[0]["visits"] == 1 && days[0]["unlocks"] == 2 && days[0]["refused"] == 1 && days[0]["commands"] == 1
            )
            #expect(days[0]["average_s_to_unlock"] == 1.25 && days[1]["average_s_to_unlock"] == nil)
            #expect(days[1]["refused"] == 1 && days[1]["faults"] == 1 && days[1]["visits"] == 0)
        }
    }

    @Test("snapshots are served by name only")
    func snapshots() async throws {
        try await WebFixture().run { browser in
            _ = try await browser.logIn()
            let image = try await browser.request("/snapshots/\(WebFixture.snapshot)", method: .get, form: nil)
            #expect(image.status == .ok && image.headers[.contentType] == "image/jpeg")
            for bad in ["..%2Fevents.jsonl", ".hidden.jpg", "missing.jpg", "events.jsonl"] {
                #expect(try await browser.get("/snapshots/\(bad)").status == .notFound, "\(bad)")
            }
        }
    }

    @Test("labelling copies a snapshot into the trainer's layout, moves it when relabelled, and records who")
    func labelling() async throws {
        let fixture = try WebFixture()
        let dataset = fixture.app.settings.dataset
        let name = WebFixture.snapshot
        let split = dataset.split(of: name)
        try await fixture.run { browser in
            _ = try await browser.logIn()
            let page = try await browser.get("/label")
            #expect(page.body.contains(name))
            let token = try #require(page.token)
            #expect(
                try await browser.post("/label", [("snapshot", name), ("label", "positive")]).status == .badRequest)
            #expect(
                try await browser.post("/label", [("snapshot", "../users"), ("label", "positive"), ("csrf", token)])
                    .status
                    == .badRequest)
            #expect(
                try await browser.post("/label", [("snapshot", name), ("label", "positive"), ("csrf", token)]).status
                    == .seeOther)
            #expect(
                try readFile("\(dataset.directory)/\(split)/bo/\(name)", limit: 1 << 20) == WebFixture.snapshotBytes)
            #expect(
                !(try await browser.get("/label").body.contains("id=\"\(name)\"")), "labelled photos leave the list")
            #expect(try await browser.get("/label?show=all").body.contains("Labelled <strong>bo</strong> by web:owner"))
            _ = try await browser.post("/label", [("snapshot", name), ("label", "negative"), ("csrf", token)])
            #expect(!fileExistsAt("\(dataset.directory)/\(split)/bo/\(name)"))
            #expect(fileExistsAt("\(dataset.directory)/\(split)/not_bo/\(name)"))
            _ = try await browser.post("/label", [("snapshot", name), ("label", "skip"), ("csrf", token)])
            #expect(!fileExistsAt("\(dataset.directory)/\(split)/not_bo/\(name)"))
        }
        let labels = try dataset.labels()
        #expect(labels[name]?.label == .skip && labels[name]?.by == "web:owner")
        let log = try String(decoding: readFile(dataset.directory + "/labels.jsonl", limit: 1 << 20), as: UTF8.self)
        #expect(log.split(separator: "\n").count == 3, "every decision is kept")
    }

    /// A model file's header as the trainer writes it (the tensors are not needed to show the manifest).
    static func modelHeader(_ manifest: JSONValue) -> [UInt8] {
        let header: JSONValue = ["__metadata__": ["dogdoor_manifest": .string(manifest.serialized()), "format": "pt"]]
        let json = Array(header.serialized().utf8)
        return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json
    }

    @Test("the model page shows the running model's manifest and serves its report in a sandbox")
    func modelPage() async throws {
        let fixture = try WebFixture()
        let door = fixture.door
        let model = fixture.directory.file("model.safetensors")
        let manifest: JSONValue = [
            "architecture": "vgg16-notop+gap+dense1", "input": ["width": 224, "height": 224],
            "classes": ["positive": "bo", "negative": "not_bo"], "decision": ["threshold": 0.4545],
            "training": ["epochs": "10", "final_val_accuracy": 0.95, "images": ["train_positive": 18]],
        ]
        try AtomicFile.write(Self.modelHeader(manifest), to: model)
        try AtomicFile.write(
            "<html><style>p{}</style><p>report</p></html>", to: fixture.directory.file("model.report.html"))
        door.state.withLock { $0.modelPath = model }
        try await fixture.run { browser in
            _ = try await browser.logIn()
            let page = try await browser.get("/model")
            #expect(page.body.contains("bo (not not_bo)") && page.body.contains("0.4545"))
            #expect(page.body.contains("<th>training.images.train_positive</th>") == false)
            #expect(page.body.contains("<th>images.train_positive</th><td>18</td>"))
            #expect(page.body.contains("<th>final_val_accuracy</th><td>0.95</td>"))
            #expect(page.body.contains(#"href="/model/report""#))
            let report = try await browser.get("/model/report")
            #expect(report.status == .ok && report.body.contains("<p>report</p>"))
            #expect(report.headers[.contentSecurityPolicy]?.contains("sandbox") == true)
            #expect(report.headers[.contentSecurityPolicy]?.contains("script") == false)
            // A file that is not a model says so, naming it.
            try AtomicFile.write(Array(repeating: 0xFF, count: 64), to: model)
            #expect(try await browser.get("/model").body.contains("not a DogDoor model"))
            door.state.withLock { $0.reachable = false }
            #expect(try await browser.get("/model").status == .serviceUnavailable)
        }
    }

    @Test("metrics mirror the daemon's counters and count logins")
    func metrics() async throws {
        let fixture = try WebFixture()
        let door = fixture.door
        try await fixture.run { browser in
            _ = try await browser.logIn(password: "nope")
            _ = try await browser.logIn()
            let text = try await browser.get("/metrics").body
            for line in [
                "dogdoor_daemon_up 1", #"dogdoor_frames_total{outcome="evaluated"} 400"#,
                #"dogdoor_mode{mode="auto"} 1"#, #"dogdoor_web_logins_total{result="refused"} 1"#,
                #"dogdoor_web_logins_total{result="ok"} 1"#, "dogdoor_latch_unlocked 0",
                #"dogdoor_unlocks_total{cause="vote"} 2"#, #"dogdoor_inference_seconds_bucket{le="0.15"} 3"#,
                #"dogdoor_inference_seconds_bucket{le="+Inf"} 4"#, "dogdoor_inference_seconds_sum 0.6",
                "dogdoor_model_load_seconds 0.25",
            ] {
                #expect(text.contains(line), "\(line)")
            }
            _ = try await browser.get("/metrics")
            #expect(try await browser.get("/metrics").body.contains(#"dogdoor_frames_total{outcome="evaluated"} 400"#))
            door.state.withLock { $0.reachable = false }
            let down = try await browser.get("/metrics").body
            #expect(down.contains("dogdoor_daemon_up 0") && !down.contains("dogdoor_frames_total"))
        }
    }

    @Test("logging out needs the token and ends the session")
    func logout() async throws {
        try await WebFixture().run { browser in
            _ = try await browser.logIn()
            let token = try #require(try await browser.get("/").token)
            #expect(try await browser.post("/logout", [("csrf", "x")]).status == .forbidden)
            #expect(try await browser.post("/logout", [("csrf", token)]).headers[.location] == "/login")
            #expect(try await browser.get("/").headers[.location] == "/login")
        }
    }
}

@Suite("web app logic")
struct WebLogicTests {
    @Test("the throttle locks a name or an address after five failures in the window, then forgives")
    func throttle() {
        var throttle = LoginThrottle()
        let t0 = MonotonicInstant.seconds(1_000)
        for i in 0..<4 {
            #expect(throttle.recordFailure(name: "owner", address: "10.0.0.\(i)", at: t0 + .seconds(i)) == nil)
        }
        #expect(throttle.retryAfter(name: "owner", address: "10.0.0.9", at: t0 + .seconds(5)) == nil)
        #expect(throttle.recordFailure(name: "owner", address: "10.0.0.9", at: t0 + .seconds(5)) == .seconds(900))
        #expect(throttle.retryAfter(name: "owner", address: "10.0.0.8", at: t0 + .seconds(65)) == .seconds(840))
        #expect(throttle.retryAfter(name: "owner", address: "10.0.0.8", at: t0 + .seconds(905)) == nil)
        // Failures older than the window do not count.
        var slow = LoginThrottle()
        for i in 0..<10 {
            #expect(slow.recordFailure(name: "a", address: "b", at: t0 + .seconds(Int64(i) * 400)) == nil)
        }
        // One address guessing many names is stopped too.
        var spray = LoginThrottle()
        for i in 0..<5 { spray.recordFailure(name: "user\(i)", address: "10.0.0.1", at: t0) }
        #expect(spray.retryAfter(name: "someone", address: "10.0.0.1", at: t0) != nil)
        spray.recordSuccess(name: "someone", address: "10.0.0.1")
        #expect(spray.retryAfter(name: "someone", address: "10.0.0.1", at: t0) == nil)
        // A flood of made-up names does not grow it without bound.
        var flood = LoginThrottle()
        flood.capacity = 100
        for i in 0..<1_000 { flood.recordFailure(name: "n\(i)", address: "a\(i)", at: t0 + .milliseconds(i)) }
        #expect(flood.retryAfter(name: "n999", address: "x", at: t0 + .seconds(1)) == nil)
    }

    @Test("the users file: bcrypt hashes, errors naming the line, no second user of one name")
    func passwordFile() throws {
        var file = PasswordFile()
        try file.setPassword("long enough", for: "owner", cost: 4)
        #expect(file.verify(name: "owner", password: "long enough"))
        #expect(!file.verify(name: "owner", password: "long enougH"))
        #expect(!file.verify(name: "nobody", password: "long enough"))
        #expect(throws: Failure.self) { try file.setPassword("short", for: "owner", cost: 4) }
        #expect(throws: Failure.self) { try file.setPassword(String(repeating: "x", count: 73), for: "owner", cost: 4) }
        #expect(throws: Failure.self) { try file.setPassword("long enough", for: "bad name", cost: 4) }
        let again = try PasswordFile(parsing: file.text, file: "users")
        #expect(again == file && again.verify(name: "owner", password: "long enough"))
        #expect(throws: Failure("users:2: expected NAME:HASH")) {
            try PasswordFile(parsing: "# c\nowner\n", file: "users")
        }
        #expect(throws: Failure("users:1: the password of owner is not a bcrypt hash")) {
            try PasswordFile(parsing: "owner:plaintext", file: "users")
        }
        let line = file.text.split(separator: "\n")[1]
        #expect(throws: Failure("users:2: user owner appears twice")) {
            try PasswordFile(parsing: "\(line)\n\(line)\n", file: "users")
        }
    }

    @Test("reading the end of a long log starts at a line boundary")
    func tail() throws {
        let directory = TemporaryDirectory("tail")
        let path = directory.file("events.jsonl")
        try AtomicFile.write("first line\nsecond line\nthird\n", to: path)
        #expect(try EventHistory.readTail(path, maxBytes: 1 << 20) == "first line\nsecond line\nthird\n")
        // The last 15 bytes start inside "second line": that partial line is dropped.
        #expect(try EventHistory.readTail(path, maxBytes: 15) == "third\n")
    }

    @Test("event lines map to the timeline's categories")
    func categories() throws {
        func category(_ line: String) -> EventCategory? { EventEntry(line: line[...])?.category }
        let t = #""time":"2026-12-06T08:00:00.000+01:00""#
        #expect(category(#"{\#(t),"kind":"unlock","frame":3}"#) == .bo)
        #expect(category(#"{\#(t),"kind":"unlock"}"#) == .manual)
        #expect(category(#"{\#(t),"kind":"rejected_curfew"}"#) == .refused)
        #expect(category(#"{\#(t),"kind":"latch_relocked","reason":"heartbeat_lost"}"#) == .fault)
        #expect(category(#"{\#(t),"kind":"latch_relocked","reason":"lease_ended"}"#) == .other)
        #expect(category(#"{"kind":"unlock"}"#) == nil)
        #expect(category("not json") == nil)
        #expect(EventEntry(line: #"{\#(t),"kind":"unlock","snapshot":"../../etc/passwd"}"#)?.snapshot == nil)
    }

    @Test("the shipped web.toml reads back as the defaults")
    func shippedExample() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let shipped = try WebConfiguration.load(path: url.path + "/etc/dogdoor/web.toml", overrides: [])
        #expect(shipped == WebConfiguration())
    }

    @Test("web.toml: every key, errors naming the file and line, overrides")
    func configuration() throws {
        let directory = TemporaryDirectory("webconf")
        let path = directory.path + "/web.toml"
        try AtomicFile.write(
            """
            [web]
            listen = "0.0.0.0:9090"
            users = "/tmp/users"
            control_socket = "/tmp/control.sock"
            events_directory = "/tmp/events"
            valid_fraction = 0.25

            [mqtt]
            enabled = true
            host = "broker.lan"
            port = 8883
            ca_file = "/etc/ssl/ca.pem"
            unlock_minutes = 5
            """, to: path)
        let configuration = try WebConfiguration.load(path: path, overrides: ["web.listen=[::1]:8081"])
        #expect(configuration.host == "::1" && configuration.port == 8081)
        #expect(configuration.users == "/tmp/users" && configuration.validFraction == 0.25)
        #expect(configuration.mqtt.enabled && configuration.mqtt.port == 8883 && configuration.mqtt.unlockMinutes == 5)
        #expect(try configuration.daemonPaths() == ("/tmp/control.sock", "/tmp/events"))
        try AtomicFile.write("[web]\nlisten = \"nowhere\"\n", to: path)
        #expect(throws: Failure("\(path):2: web.listen must be HOST:PORT, e.g. \"127.0.0.1:8080\"")) {
            try WebConfiguration.load(path: path, overrides: [])
        }
        try AtomicFile.write("[mqtt]\nport = 0\n[web]\ncolour = \"red\"\n", to: path)
        #expect(throws: Failure("\(path):2: mqtt.port must be a whole number from 1 to 65535")) {
            try WebConfiguration.load(path: path, overrides: [])
        }
        #expect(throws: Failure("--set web.colour: unknown key web.colour")) {
            try WebConfiguration.load(path: nil, overrides: ["web.colour=red"])
        }
    }
}

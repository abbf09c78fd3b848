import Control
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import HummingbirdBcrypt
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Support
import WebCore

/// Where the web app finds things and how it listens.
public struct WebSettings: Sendable {
    /// Address to listen on: loopback by default (reach it from a phone through a reverse proxy with TLS, or
    /// bind a LAN address deliberately).
    public var host = "127.0.0.1"
    public var port = 8080
    public var passwordFile = "/etc/dogdoor/web-users"
    /// The daemon's events directory (`[events] directory`): events.jsonl and snapshots/.
    public var eventsDirectory = "/var/lib/dogdoor/events"
    /// How long a login lasts without use.
    public var sessionLifetime: Duration = .seconds(12 * 60 * 60)
    /// The latest evaluated frame the daemon writes (`latest.jpg` beside its control socket), if any.
    public var latestFrame: String?
    /// Where labelled snapshots go.
    public var dataset = DatasetLabel(
        directory: "/var/lib/dogdoor-web/dataset", positiveClass: "bo", negativeClass: "not_bo", validFraction: 0.2)

    public init() {}

    /// The settings `configuration` describes, with the daemon's events directory.
    public init(_ configuration: WebConfiguration, eventsDirectory: String, controlSocket: String) {
        latestFrame = parentDirectory(of: controlSocket) + "/latest.jpg"
        host = configuration.host
        port = configuration.port
        passwordFile = configuration.users
        self.eventsDirectory = eventsDirectory
        dataset = DatasetLabel(
            directory: configuration.dataset, positiveClass: configuration.positiveClass,
            negativeClass: configuration.negativeClass, validFraction: configuration.validFraction)
    }
}

/// One browser's session: who logged in (nil before), and the token every form must carry back (CSRF).
struct WebSession: Codable, Sendable {
    var user: String?
    var csrf: String
    var flash: Flash?

    struct Flash: Codable, Sendable {
        var text: String
        var isError: Bool
    }
}

struct WebContext: SessionRequestContext {
    var coreContext: CoreRequestContextStorage
    let sessions: SessionContext<WebSession>
    /// The peer's IP address, for the login throttle and the log ("local" without a socket, as in tests).
    let remoteAddress: String

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        sessions = .init()
        remoteAddress = source.channel.remoteAddress?.ipAddress ?? "local"
    }

    /// Forms are small; a bigger body is refused (413) before it is read.
    var maxUploadSize: Int { 16 * 1024 }
}

/// The web app: pages, the JSON status, door commands, the timeline, snapshots and metrics, behind a login.
public struct WebApp: Sendable {
    public let settings: WebSettings
    public let door: any DoorLink
    public let metrics: WebMetrics
    let clock: any DoorClock
    let throttle = Locked(LoginThrottle())
    /// Logged-in sessions; its service removes expired ones.
    let sessionStore = MemoryPersistDriver()
    let logger: Logger

    public init(settings: WebSettings, door: any DoorLink, clock: any DoorClock = SystemClock(), logger: Logger) {
        self.settings = settings
        self.door = door
        self.metrics = WebMetrics()
        self.clock = clock
        self.logger = logger
    }

    /// The application, ready to run (or to test with HummingbirdTesting); `services` run beside the server
    /// (the Home Assistant bridge) and stop with it.
    public func application(
        services: [any Service] = [], onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "dogdoor-web"),
            services: [sessionStore] + services,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    func router() -> Router<WebContext> {
        let router = Router(context: WebContext.self)
        router.add(middleware: SecurityHeaders())
        router.add(
            middleware: SessionMiddleware(
                storage: sessionStore,
                configuration: .init(
                    sessionCookieParameters: .init(name: "dogdoor_session", sameSite: .strict),
                    defaultSessionExpiration: settings.sessionLifetime)))
        router.get("/static/app.css") { _, _ in Self.asset(Pages.styleSheet, type: "text/css; charset=utf-8") }
        router.get("/static/app.js") { _, _ in Self.asset(Pages.script, type: "text/javascript; charset=utf-8") }
        router.get("/metrics") { _, _ in try await metricsResponse() }
        router.get("/login") { request, context in loginPage(request, context) }
        router.post("/login") { request, context in try await login(request, context) }

        let member = router.group().add(middleware: RequireLogin())
        member.get("/") { _, context in try await statusPage(context) }
        member.get("/api/status") { _, context in try await statusJSON(context) }
        member.post("/door") { request, context in try await command(request, context) }
        member.get("/events") { request, context in try eventsPage(request, context) }
        member.get("/api/events") { request, _ in try eventsJSON(request) }
        member.get("/snapshots/{name}") { _, context in try await snapshot(context) }
        member.get("/latest.jpg") { _, _ in try await latestFrame() }
        member.get("/model") { _, context in try await modelPage(context) }
        member.get("/model/report") { _, _ in try await modelReport() }
        member.get("/label") { request, context in try labelPage(request, context) }
        member.post("/label") { request, context in try await label(request, context) }
        member.post("/logout") { request, context in try await logout(request, context) }
        return router
    }

    // MARK: - Login

    /// The login form's token is a cookie of its own (double submit), not a session: a session is made only at
    /// a successful login, so requests without one cost the server nothing to remember.
    static let loginCookie = "dogdoor_login"

    func loginToken(_ request: Request) -> String {
        if let token = request.cookies[Self.loginCookie]?.value, token.utf8.count == 64,
            token.allSatisfy({ $0.isHexDigit && !$0.isUppercase })
        {
            return token
        }
        return randomToken()
    }

    func loginPage(_ request: Request, _ context: WebContext) -> Response {
        if context.sessions.session?.user != nil { return .redirect(to: "/") }
        return loginForm(token: loginToken(request), context, ["title": "Log in"])
    }

    func loginForm(token: String, _ context: WebContext, _ values: [String: Any]) -> Response {
        var response = page("login", context, session: WebSession(user: nil, csrf: token, flash: nil), values)
        response.setCookie(
            Cookie(
                name: Self.loginCookie, value: token, maxAge: 30 * 60, path: "/login", httpOnly: true, sameSite: .strict
            ))
        return response
    }

    struct LoginForm: Decodable {
        var user: String
        var password: String
        var csrf: String
    }

    func login(_ request: Request, _ context: WebContext) async throws -> Response {
        let form = try await decodeForm(LoginForm.self, request, context)
        guard let cookie = request.cookies[Self.loginCookie]?.value, constantTimeEqual(form.csrf, cookie) else {
            logger.warning("refused a login form without its token", metadata: ["address": "\(context.remoteAddress)"])
            throw HTTPError(.forbidden, message: "the form has expired; reload the page")
        }
        let now = clock.now().monotonic
        let address = context.remoteAddress
        if let wait = throttle.withLock({ $0.retryAfter(name: form.user, address: address, at: now) }) {
            logger.warning("login refused: locked out", metadata: ["user": "\(form.user)", "address": "\(address)"])
            metrics.recordLogin(succeeded: false)
            return loginFailed(
                context, token: form.csrf, name: form.user, "Too many failed logins. Try again in \(minutes(wait)).")
        }
        let path = settings.passwordFile
        let users = try await NIOThreadPool.singleton.runIfActive { try PasswordFile.load(path) }
        let user = form.user
        let password = form.password
        let valid = try await NIOThreadPool.singleton.runIfActive { users.verify(name: user, password: password) }
        metrics.recordLogin(succeeded: valid)
        guard valid else {
            let lockout = throttle.withLock { $0.recordFailure(name: user, address: address, at: now) }
            logger.warning("login failed", metadata: ["user": "\(user)", "address": "\(address)"])
            if let lockout {
                return loginFailed(
                    context, token: form.csrf, name: user, "Too many failed logins. Try again in \(minutes(lockout)).")
            }
            return loginFailed(context, token: form.csrf, name: user, "Wrong name or password.")
        }
        throttle.withLock { $0.recordSuccess(name: user, address: address) }
        logger.notice("login", metadata: ["user": "\(user)", "address": "\(address)"])
        // A new session (new id, new token) at login: a session id planted before the login is worth nothing.
        context.sessions.createSession(WebSession(user: user, csrf: randomToken(), flash: nil))
        return .redirect(to: "/")
    }

    func loginFailed(_ context: WebContext, token: String, name: String, _ message: String) -> Response {
        var response = loginForm(
            token: token, context, ["title": "Log in", "name": name, "flash": ["text": message, "kind": "error"]])
        response.status = .unauthorized
        return response
    }

    func logout(_ request: Request, _ context: WebContext) async throws -> Response {
        let form = try await decodeForm(TokenForm.self, request, context)
        try requireToken(form.csrf, context)
        logger.notice("logout", metadata: ["user": "\(context.sessions.session?.user ?? "")"])
        context.sessions.clearSession()
        return .redirect(to: "/login")
    }

    // MARK: - The door

    func statusPage(_ context: WebContext) async throws -> Response {
        var session = try requireSession(context)
        var values: [String: Any] = ["title": "Door"]
        do {
            let answer = try await door.send(.status, origin: nil)
            metrics.update(answer.status)
            if let status = answer.status { values.merge(StatusView(status).values) { $1 } }
            values["reachable"] = true
        } catch {
            metrics.update(nil)
            values["reachable"] = false
            values["problem"] = "\(error)"
            values["latch"] = "unknown"
        }
        if let latest = settings.latestFrame, fileExistsAt(latest) { values["live"] = true }
        let recent = (try? EventHistory.recent(directory: settings.eventsDirectory, limit: 200)) ?? []
        if let latest = recent.first(where: { $0.snapshot != nil }) { values["latest"] = EntryView(latest).values }
        // The last decisions with the probabilities behind them.
        let decisions = recent.filter { !$0.scores.isEmpty }.prefix(5).map { EntryView($0).values }
        values["decisions"] = decisions
        values["hasDecisions"] = !decisions.isEmpty
        if let flash = session.flash {
            values["flash"] = ["text": flash.text, "kind": flash.isError ? "error" : "ok"]
            session.flash = nil
            _ = context.sessions.updateSession(session)
        }
        return page("status", context, session: session, values)
    }

    func statusJSON(_ context: WebContext) async throws -> Response {
        let answer: ControlResponse
        do {
            answer = try await door.send(.status, origin: nil)
        } catch {
            metrics.update(nil)
            throw HTTPError(.serviceUnavailable, message: "\(error)")
        }
        metrics.update(answer.status)
        guard let status = answer.status else { throw HTTPError(.badGateway, message: answer.error ?? "no status") }
        return Self.json(try JSONValueEncoder().encode(status))
    }

    struct TokenForm: Decodable { var csrf: String }

    struct DoorForm: Decodable {
        var csrf: String
        var action: String
        var minutes: String?
    }

    func command(_ request: Request, _ context: WebContext) async throws -> Response {
        let form = try await decodeForm(DoorForm.self, request, context)
        try requireToken(form.csrf, context)
        var session = try requireSession(context)
        let command: ControlCommand
        switch form.action {
        case "lock": command = .lock
        case "auto": command = .auto
        case "unlock":
            guard let text = form.minutes, let minutes = Int(text), (1...1_440).contains(minutes) else {
                throw HTTPError(.badRequest, message: "unlock needs minutes from 1 to 1440")
            }
            command = .unlock(seconds: minutes * 60)
        default: throw HTTPError(.badRequest, message: "unknown action")
        }
        let user = session.user ?? ""
        metrics.recordCommand(command)
        logger.notice("door command", metadata: ["command": "\(command.name)", "user": "\(user)"])
        do {
            let answer = try await door.send(command, origin: "web:\(user)")
            metrics.update(answer.status)
            if answer.ok {
                session.flash = .init(text: Self.done(command, answer.status), isError: false)
            } else {
                session.flash = .init(text: "The door refused: \(answer.error ?? "no reason given")", isError: true)
            }
        } catch {
            session.flash = .init(text: "The door daemon did not answer: \(error)", isError: true)
        }
        _ = context.sessions.updateSession(session)
        return .redirect(to: "/")
    }

    static func done(_ command: ControlCommand, _ status: DaemonStatus?) -> String {
        let latch = status.map { " The door is \($0.latch.rawValue)." } ?? ""
        switch command {
        case .lock: return "Locked: the door stays shut until you choose auto or unlock." + latch
        case .auto: return "Auto: the door opens for Bo." + latch
        case .unlock(let seconds): return "Unlocked for \(seconds / 60) min." + latch
        case .status: return latch
        }
    }

    // MARK: - Timeline

    static let filters: [(value: String, label: String)] = [
        ("", "All"), ("bo", "Bo"), ("refused", "Refused"), ("manual", "Manual"), ("fault", "Faults"),
    ]

    func entries(_ request: Request) throws -> (entries: [EventEntry], filter: EventCategory?) {
        let filterText = request.uri.queryParameters["filter"].map(String.init) ?? ""
        let filter = EventCategory(rawValue: filterText)
        guard filterText.isEmpty || filter != nil else { throw HTTPError(.badRequest, message: "unknown filter") }
        var entries = try EventHistory.recent(directory: settings.eventsDirectory, limit: 5_000)
        if let filter { entries = entries.filter { $0.category == filter } }
        return (entries, filter)
    }

    func eventsPage(_ request: Request, _ context: WebContext) throws -> Response {
        let session = try requireSession(context)
        let (entries, filter) = try entries(request)
        let all = try EventHistory.recent(directory: settings.eventsDirectory, limit: 5_000)
        let values: [String: Any] = [
            "title": "Timeline",
            "filters": Self.filters.map {
                ["value": $0.value, "label": $0.label, "selected": $0.value == (filter?.rawValue ?? "")]
                    as [String: Any]
            },
            "filterName": filter?.rawValue as Any,
            "days": EventHistory.days(all).prefix(14).map {
                [
                    "day": $0.day, "visits": $0.visits, "unlocks": $0.unlocks, "refused": $0.refused,
                    "commands": $0.commands, "faults": $0.faults,
                    "wait": $0.averageSecondsToUnlock.map { fixed($0, 1) + " s" } ?? "-",
                ] as [String: Any]
            },
            "entries": entries.prefix(200).map { EntryView($0).values },
        ]
        return page("events", context, session: session, values)
    }

    func eventsJSON(_ request: Request) throws -> Response {
        let (entries, _) = try entries(request)
        struct Answer: Encodable {
            var days: [DaySummary]
            var events: [EventEntry]
        }
        let all = try EventHistory.recent(directory: settings.eventsDirectory, limit: 5_000)
        let answer = Answer(days: EventHistory.days(all), events: Array(entries.prefix(500)))
        return Self.json(try JSONValueEncoder().encode(answer))
    }

    func snapshot(_ context: WebContext) async throws -> Response {
        let name = try context.parameters.require("name")
        guard SnapshotName.isValid(name) else { throw HTTPError(.notFound) }
        let path = settings.eventsDirectory + "/snapshots/" + name
        let bytes: [UInt8]
        do {
            bytes = try await NIOThreadPool.singleton.runIfActive { try readFile(path, limit: 8 << 20) }
        } catch {
            throw HTTPError(.notFound)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "image/jpeg", .cacheControl: "private, max-age=86400"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    // MARK: - The model

    /// The running model's file, as the daemon reports it.
    func modelPath() async throws -> (path: String, sha256: String) {
        let answer: ControlResponse
        do {
            answer = try await door.send(.status, origin: nil)
        } catch {
            throw HTTPError(.serviceUnavailable, message: "the door daemon does not answer: \(error)")
        }
        guard let model = answer.status?.model else { throw HTTPError(.notFound, message: "no model is loaded") }
        return (model.path, model.sha256)
    }

    /// The trainer writes its report beside the model: `model.safetensors` -> `model.report.html`.
    static func reportPath(of model: String) -> String {
        (model.hasSuffix(".safetensors") ? String(model.dropLast(12)) : model) + ".report.html"
    }

    func modelPage(_ context: WebContext) async throws -> Response {
        let session = try requireSession(context)
        let (path, sha256) = try await modelPath()
        var values: [String: Any] = ["title": "Model", "path": path, "sha256": sha256]
        do {
            let summary = try await NIOThreadPool.singleton.runIfActive { try ModelSummary.load(path) }
            values["summary"] =
                [
                    "positive": summary.positiveClass, "negative": summary.negativeClass,
                    "threshold": fixed(summary.threshold, 4), "architecture": summary.architecture,
                    "input": summary.inputSize.map { "\($0)x\($0)" } ?? "?", "signed": summary.signed ? "yes" : "no",
                    "training": summary.training.map { ["key": $0.key, "value": $0.value] },
                ] as [String: Any]
        } catch {
            values["problem"] = "\(error)"
        }
        values["report"] = fileExistsAt(Self.reportPath(of: path))
        return page("model", context, session: session, values)
    }

    /// The training report, as the trainer wrote it: its own inline styles and SVG, and no script; served with a
    /// policy that allows exactly that.
    func modelReport() async throws -> Response {
        let path = Self.reportPath(of: try await modelPath().path)
        let bytes: [UInt8]
        do {
            bytes = try await NIOThreadPool.singleton.runIfActive { try readFile(path, limit: 64 << 20) }
        } catch {
            throw HTTPError(.notFound, message: "no training report beside the model (\(path))")
        }
        var response = Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        response.headers[.contentSecurityPolicy] =
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; sandbox"
        return response
    }

    // MARK: - Labelling

    func labelPage(_ request: Request, _ context: WebContext) throws -> Response {
        let session = try requireSession(context)
        let showAll = request.uri.queryParameters["show"] == "all"
        let labels = try settings.dataset.labels()
        var seen = Set<String>()
        let snapshots = try EventHistory.recent(directory: settings.eventsDirectory, limit: 5_000).filter {
            guard let name = $0.snapshot, !seen.contains(name) else { return false }
            seen.insert(name)
            return showAll || labels[name] == nil
        }
        let dataset = settings.dataset
        let values: [String: Any] = [
            "title": "Label", "showAll": showAll, "positive": dataset.positiveClass,
            "negative": dataset.negativeClass,
            "counts": dataset.counts().map { ["folder": $0.folder, "count": $0.count] as [String: Any] },
            "directory": dataset.directory,
            "snapshots": snapshots.prefix(60).map { entry -> [String: Any] in
                var values = EntryView(entry).values
                if let label = labels[entry.snapshot ?? ""] {
                    values["label"] = Self.labelText(label.label, dataset)
                    values["labelledBy"] = label.by
                }
                return values
            },
        ]
        return page("label", context, session: session, values)
    }

    static func labelText(_ label: SnapshotLabel, _ dataset: DatasetLabel) -> String {
        switch label {
        case .positive: return dataset.positiveClass
        case .negative: return dataset.negativeClass
        case .skip: return "skipped"
        }
    }

    struct LabelForm: Decodable {
        var csrf: String
        var snapshot: String
        var label: String
        var show: String?
    }

    func label(_ request: Request, _ context: WebContext) async throws -> Response {
        let form = try await decodeForm(LabelForm.self, request, context)
        try requireToken(form.csrf, context)
        let session = try requireSession(context)
        guard let label = SnapshotLabel(rawValue: form.label) else {
            throw HTTPError(.badRequest, message: "label must be positive, negative or skip")
        }
        guard SnapshotName.isValid(form.snapshot) else { throw HTTPError(.badRequest, message: "not a snapshot") }
        let dataset = settings.dataset
        let snapshots = settings.eventsDirectory + "/snapshots"
        let user = session.user ?? ""
        let now = clock.now().wall
        do {
            try await NIOThreadPool.singleton.runIfActive {
                try dataset.label(form.snapshot, as: label, by: "web:\(user)", at: now, snapshots: snapshots)
            }
        } catch {
            logger.error("labelling failed", metadata: ["snapshot": "\(form.snapshot)", "error": "\(error)"])
            throw HTTPError(.internalServerError, message: "could not label \(form.snapshot): \(error)")
        }
        logger.notice(
            "labelled", metadata: ["snapshot": "\(form.snapshot)", "label": "\(label.rawValue)", "user": "\(user)"])
        return .redirect(to: form.show == "all" ? "/label?show=all" : "/label")
    }

    /// The latest frame the daemon scored (it rewrites the file every few seconds).
    func latestFrame() async throws -> Response {
        guard let path = settings.latestFrame else { throw HTTPError(.notFound) }
        let bytes: [UInt8]
        do {
            bytes = try await NIOThreadPool.singleton.runIfActive { try readFile(path, limit: 8 << 20) }
        } catch {
            throw HTTPError(.notFound, message: "no frame yet")
        }
        return Response(
            status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    // MARK: - Metrics

    func metricsResponse() async throws -> Response {
        do {
            metrics.update(try await door.send(.status, origin: nil).status)
        } catch {
            metrics.update(nil)
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
    }

    // MARK: - Helpers

    func requireSession(_ context: WebContext) throws -> WebSession {
        guard let session = context.sessions.session, session.user != nil else { throw HTTPError(.unauthorized) }
        return session
    }

    /// Every state change carries the session's token: a page of another site cannot make the browser send one.
    func requireToken(_ token: String, _ context: WebContext) throws {
        guard let expected = context.sessions.session?.csrf, constantTimeEqual(token, expected) else {
            logger.warning(
                "refused a form without the session's token", metadata: ["address": "\(context.remoteAddress)"])
            throw HTTPError(.forbidden, message: "the form has expired; reload the page")
        }
    }

    func decodeForm<Form: Decodable>(_ type: Form.Type, _ request: Request, _ context: WebContext) async throws -> Form
    {
        guard request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true else {
            throw HTTPError(.unsupportedMediaType, message: "expected a form")
        }
        do {
            return try await URLEncodedFormDecoder().decode(Form.self, from: request, context: context)
        } catch let error as HTTPResponseError {
            throw error
        } catch {
            throw HTTPError(.badRequest, message: "the form is incomplete")
        }
    }

    func page(_ name: String, _ context: WebContext, session: WebSession, _ values: [String: Any]) -> Response {
        var values = values
        values["csrf"] = session.csrf
        if let user = session.user { values["user"] = user }
        return Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: Pages.render(name, values))))
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "max-age=3600"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func json(_ value: JSONValue) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: value.serialized())))
    }

    func minutes(_ duration: Duration) -> String {
        let minutes = max(1, Int((Double(duration.components.seconds) / 60).rounded(.up)))
        return minutes == 1 ? "1 minute" : "\(minutes) minutes"
    }
}

/// Pages only for someone logged in: others are sent to the login page (API calls get 401).
struct RequireLogin: RouterMiddleware {
    typealias Context = WebContext

    func handle(
        _ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response
    ) async throws -> Response {
        guard context.sessions.session?.user != nil else {
            if request.uri.path.hasPrefix("/api/") || request.method != .get { throw HTTPError(.unauthorized) }
            return .redirect(to: "/login")
        }
        return try await next(request, context)
    }
}

/// Headers on every answer: only this origin's scripts, styles and images; no framing (clickjacking); no
/// MIME sniffing; no referrer sent elsewhere.
struct SecurityHeaders: RouterMiddleware {
    typealias Context = WebContext

    func handle(
        _ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response
    ) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError where !request.uri.path.hasPrefix("/api/") {
            // A person's browser gets a page that says what went wrong and leads back; the API gets JSON.
            let page = Pages.render(
                "error",
                [
                    "title": error.status.reasonPhrase, "status": error.status.code,
                    "message": error.body ?? error.status.reasonPhrase,
                ])
            response = Response(
                status: error.status,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: page)))
        } catch let error as HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        if response.headers[.contentSecurityPolicy] == nil {
            response.headers[.contentSecurityPolicy] =
                "default-src 'self'; img-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        }
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return response
    }
}

/// Compares two strings in time that depends on their length only.
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var difference: UInt8 = 0
    for i in x.indices { difference |= x[i] ^ y[i] }
    return difference == 0
}

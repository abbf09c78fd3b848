/// How dogdoor-web reaches an MQTT broker for Home Assistant (the `[mqtt]` section of web.toml).
public struct MQTTSettings: Sendable, Equatable {
    /// Off unless a broker is configured.
    public var enabled = false
    public var host = "127.0.0.1"
    public var port = 1883
    /// Client id at the broker (unique per broker).
    public var clientID = "dogdoor"
    public var username: String?
    /// A file holding the password (one line), readable by dogdoor-web only: the password is not in web.toml.
    public var passwordFile: String?
    /// TLS: the CA certificate file that signed the broker's certificate (TLS is on when set).
    public var caFile: String?
    /// Home Assistant's discovery prefix.
    public var discoveryPrefix = "homeassistant"
    /// Prefix of DogDoor's own topics: `<topic_prefix>/<node_id>/...`.
    public var topicPrefix = "dogdoor"
    /// The device's id in topics and unique ids (letters, digits, - and _).
    public var nodeID = "dogdoor"
    /// How long UNLOCK from Home Assistant unlocks the door; OPEN unlocks for `openSeconds`.
    public var unlockMinutes = 10
    public var openSeconds = 30
    /// Seconds between keep-alive pings.
    public var keepAlive = 30

    public init() {}
}

/// The topic of DogDoor's availability (`online`/`offline`, retained; `offline` is also the client's will).
extension MQTTSettings {
    public var availabilityTopic: String { "\(topicPrefix)/\(nodeID)/availability" }

    /// `host:port`, for messages.
    public var broker: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

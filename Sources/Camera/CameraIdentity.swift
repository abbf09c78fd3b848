import CV4L2
import Support

/// Who a camera is: what the kernel says about the device behind a node, so that a reconnect can tell the
/// camera that was unplugged from another device that appeared under the same name (a USB gadget, a
/// loopback device playing a video of Bo).
public struct CameraIdentity: Hashable, Sendable, CustomStringConvertible {
    /// The driver (`uvcvideo`, `vivid`).
    public var driver: String
    /// The card name the driver reports.
    public var card: String
    /// Where the device sits (`usb-0000:01:00.0-1.2`, `platform:vivid-000`).
    public var bus: String
    /// USB vendor and product ids (`046d:0825`), when the device is on USB.
    public var usbID: String?
    /// The USB serial number, when the device has one.
    public var serial: String?

    public init(driver: String, card: String, bus: String, usbID: String? = nil, serial: String? = nil) {
        self.driver = driver
        self.card = card
        self.bus = bus
        self.usbID = usbID
        self.serial = serial
    }

    public var description: String {
        var text = "\(driver) \"\(card)\" at \(bus)"
        if let usbID { text += ", USB \(usbID)" }
        if let serial { text += ", serial \(serial)" }
        return text
    }

    /// The identity of the open device `fd`: VIDIOC_QUERYCAP, and the USB device's ids and serial from sysfs
    /// (found through the node's device number, so a symlink such as /dev/v4l/by-id/... resolves correctly).
    static func of(fd: Int32, capability: dd_v4l2_capability) -> CameraIdentity {
        func string<T>(_ tuple: T) -> String {
            withUnsafeBytes(of: tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        var identity = CameraIdentity(
            driver: string(capability.driver), card: string(capability.card), bus: string(capability.bus))
        var major: UInt32 = 0, minor: UInt32 = 0
        guard dd_v4l2_device_number(fd, &major, &minor) == 0 else { return identity }
        // /sys/dev/char/M:N/device is the USB interface; its parent directory is the USB device.
        let usbDevice = "/sys/dev/char/\(major):\(minor)/device/.."
        func attribute(_ name: String) -> String? {
            guard let bytes = try? readFile(usbDevice + "/" + name, limit: 256) else { return nil }
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: " \n\t\r")
            return text.isEmpty ? nil : text
        }
        if let vendor = attribute("idVendor"), let product = attribute("idProduct") {
            identity.usbID = "\(vendor):\(product)"
        }
        identity.serial = attribute("serial")
        return identity
    }
}

/// A capture device as `dogdoor camera list` shows it.
public struct CameraDevice: Sendable {
    public struct Format: Sendable {
        public var fourcc: UInt32
        /// The fourcc as text (`MJPG`).
        public var name: String
        /// The driver's description (`Motion-JPEG`).
        public var description: String
        /// Frame sizes (`640x480`, or `up to 1920x1080` for stepwise sizes).
        public var sizes: [String]
    }

    /// The node (`/dev/video0`).
    public var path: String
    public var identity: CameraIdentity
    /// udev's stable names for the node, by id first (see `V4L2Source.stablePaths(of:)`).
    public var stablePaths: [String]
    public var formats: [Format]
}

/// The rule for reconnects: the first device the source streams from is the camera; any later open must be
/// that same device, or it is refused (the door stays locked, and the event log says what appeared).
struct CameraIdentityGuard {
    private(set) var expected: CameraIdentity?

    /// nil when `identity` may be used (and remembers it the first time), else why not.
    mutating func check(_ identity: CameraIdentity) -> String? {
        guard let expected else {
            self.expected = identity
            return nil
        }
        guard identity == expected else {
            return "a different device appeared at this path: \(identity), not the camera \(expected)"
        }
        return nil
    }
}

extension String {
    /// The string without leading and trailing characters from `set`.
    func trimmingCharacters(in set: String) -> String {
        let drop = Set(set)
        var s = Substring(self)
        while let c = s.first, drop.contains(c) { s = s.dropFirst() }
        while let c = s.last, drop.contains(c) { s = s.dropLast() }
        return String(s)
    }
}

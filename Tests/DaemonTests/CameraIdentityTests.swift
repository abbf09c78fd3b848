import Testing

@testable import Camera

/// The reconnect rule: the first device streamed from is the camera; another device at the same path is
/// refused, whatever it has in common with the camera.
@Suite struct CameraIdentityTests {
    static let camera = CameraIdentity(
        driver: "uvcvideo", card: "HD Pro Webcam C920", bus: "usb-0000:00:14.0-2",
        usbID: "046d:082d", serial: "A1B2C3")

    @Test func theFirstDeviceIsTheCameraAndComesBack() {
        var guardian = CameraIdentityGuard()
        #expect(guardian.expected == nil)
        #expect(guardian.check(Self.camera) == nil)
        #expect(guardian.expected == Self.camera)
        #expect(guardian.check(Self.camera) == nil)
    }

    /// Each field alone tells another device apart: the same model in another port, another unit of the same
    /// model (serial), a gadget copying the name (driver, ids).
    @Test(arguments: [
        CameraIdentity(
            driver: "uvcvideo", card: "HD Pro Webcam C920", bus: "usb-0000:00:14.0-3", usbID: "046d:082d",
            serial: "A1B2C3"),
        CameraIdentity(
            driver: "uvcvideo", card: "HD Pro Webcam C920", bus: "usb-0000:00:14.0-2", usbID: "046d:082d", serial: "Z9"),
        CameraIdentity(
            driver: "uvcvideo", card: "HD Pro Webcam C920", bus: "usb-0000:00:14.0-2", usbID: "046d:082d", serial: nil),
        CameraIdentity(
            driver: "uvcvideo", card: "HD Pro Webcam C920", bus: "usb-0000:00:14.0-2", usbID: "1d6b:0104",
            serial: "A1B2C3"),
        CameraIdentity(
            driver: "v4l2 loopback", card: "HD Pro Webcam C920", bus: "usb-0000:00:14.0-2", usbID: "046d:082d",
            serial: "A1B2C3"),
        CameraIdentity(
            driver: "uvcvideo", card: "Dummy video device", bus: "usb-0000:00:14.0-2", usbID: "046d:082d",
            serial: "A1B2C3"),
    ])
    func anotherDeviceIsRefusedAndNamed(other: CameraIdentity) throws {
        var guardian = CameraIdentityGuard()
        #expect(guardian.check(Self.camera) == nil)
        let answer = guardian.check(other)
        let refusal = try #require(answer)
        #expect(refusal.contains(other.description) && refusal.contains(Self.camera.description))
        // The camera is still the one expected: a refused device never replaces it.
        #expect(guardian.expected == Self.camera)
        #expect(guardian.check(Self.camera) == nil)
    }
}

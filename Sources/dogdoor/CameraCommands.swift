import ArgumentParser
import Camera
import Imaging
import Support

struct CameraCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "camera", abstract: "Find and test cameras (for installers).",
        subcommands: [List.self, Snapshot.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List V4L2 capture devices with their formats and sizes.")
        func run() throws {
            let devices = V4L2Source.listDevices()
            if devices.isEmpty {
                print("no video capture devices found (is the camera plugged in, and are you in the 'video' group?)")
                return
            }
            for device in devices {
                print("\(device.path): \(device.identity)")
                if let stable = device.stablePaths.first {
                    // The name to configure: /dev/videoN can belong to another device after a replug or reboot.
                    print("  configure as: device = \"\(stable)\"")
                    for other in device.stablePaths.dropFirst() { print("  also: \(other)") }
                } else {
                    print("  no stable name under /dev/v4l (udev not running?); /dev/videoN may change between boots")
                }
                for format in device.formats {
                    let usable = PixelFormat(fourcc: format.fourcc) != nil ? "" : "  [not supported by DogDoor]"
                    print("  \(format.name) \(format.description): \(format.sizes.joined(separator: ", "))\(usable)")
                }
            }
        }
    }

    struct Snapshot: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Capture one frame from a camera and save it as JPEG.")

        @Option(help: "The camera device.") var device = "/dev/video0"
        @Option(help: "Pixel format.") var format = PixelFormat.mjpeg
        @Option(help: "Frame width.") var width = 640
        @Option(help: "Frame height.") var height = 480
        @Argument(help: "Output JPEG file.") var output: String

        func run() throws {
            let frame = try V4L2Source.captureOne(device: device, format: format, width: width, height: height)
            let image = try frame.image()
            try AtomicFile.write(try JPEGEncoder.encode(image, options: JPEGEncodeOptions(quality: 90)), to: output)
            print("saved \(image.width)x\(image.height) frame from \(device) to \(output)")
        }
    }
}

// TEMPORARY: renders preview images to /tmp/samples-preview for visual inspection. Removed before hand-off.
import Imaging
import Support
import Testing
@testable import Samples

@Suite struct PreviewScratch {
    @Test func preview() throws {
        let dir = "/tmp/samples-preview"
        let gen = SampleGenerator(seed: 7)
        var i = 0
        for subject in Subject.allCases {
            for pose in [Pose.standing, .walking, .sitting, .facingCamera] {
                var v = SampleVariation(width: 320, height: 240, subject: subject, pose: pose, facing: i % 2 == 0 ? .right : .left,
                                        stridePhase: 1.0, subjectX: 0.5, groundY: 0.9, subjectSize: 0.62, scene: .porch,
                                        horizon: 0.4, detailSeed: UInt64(i))
                if subject.isBird || subject == .squirrel { v.subjectSize = 1.4 }
                let s = gen.render(v)
                try AtomicFile.write(try JPEGEncoder.encode(s.image, options: JPEGEncodeOptions(quality: 92)), to: "\(dir)/\(subject.rawValue)-\(pose.rawValue).jpg")
                i += 1
            }
        }
    }
}

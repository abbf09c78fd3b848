// Door: the daemon's logic, kept apart from its I/O so that each part is testable on its own.
//
// - Pure logic: `DecisionPolicy` (with `DecisionParameters`, `CurfewWindow`), `DaemonConfiguration` (with
//   the `TOML` reader and `DurationText`), `Timestamp` / `DoorClock` (`SystemClock`, `ManualClock`).
// - Hardware: `Latch` (`GPIOLatch` through libgpiod, `SimulatedLatch`) behind `LatchGuard`.
// - Records: `EventLog` (JSON lines) and `SnapshotStore` (JPEG files).
// - Process plumbing: `SystemdNotifier`, `ControlServer` / `ControlClient`.
//
// docs/decision-policy.md and docs/configuration.md describe the behaviour; the daemon executable wires
// these pieces to the frame source and the network.

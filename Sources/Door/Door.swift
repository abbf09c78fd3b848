import Support
// Door: the daemon's decisions and records, kept apart from the camera and the network.
//
// - Pure logic: `DecisionPolicy` (with `DecisionParameters`, `CurfewWindow`), `DaemonConfiguration` (with
//   the `TOML` reader and `DurationText`).
// - Records: `EventLog` (JSON lines) and `SnapshotStore` (JPEG files).
// - The control socket: `ControlServer` / `ControlClient`.
//
// The latch is not here: the latch owner (`LatchOwner`, the dogdoor-latch process) alone holds it, and
// dogdoord commands it through `LatchLink`. docs/decision-policy.md and docs/configuration.md describe the
// behaviour.

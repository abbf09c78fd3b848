/// Door: the daemon's logic — decision policy, latch, configuration, events, control.

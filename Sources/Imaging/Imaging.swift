/// Imaging: everything between image bytes and the network's input, shared by the trainer and the daemon.

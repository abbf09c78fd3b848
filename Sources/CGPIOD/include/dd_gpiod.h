#ifndef DD_GPIOD_H
#define DD_GPIOD_H
/// Thin typed shim over libgpiod v1.6 (Debian 12) for the door latch line.
#endif

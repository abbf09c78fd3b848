#ifndef DD_GPIOD_H
#define DD_GPIOD_H
/// Thin typed shim over libgpiod v1.6 (Debian 12) for the door latch line.
///
/// One call opens the chip, finds the line and requests it as an output at a given initial value; on
/// failure it reports which step failed and errno at that step (plus, when the line is busy, the name of
/// the consumer holding it), so the Swift side can throw an error naming the chip and the line.

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The step at which `dd_gpio_open_output` failed.
typedef enum dd_gpio_step {
    DD_GPIO_STEP_NONE = 0,
    /// `gpiod_chip_open_lookup` failed.
    DD_GPIO_STEP_OPEN_CHIP = 1,
    /// `gpiod_chip_find_line` (by name) or `gpiod_chip_get_line` (by offset) failed.
    DD_GPIO_STEP_FIND_LINE = 2,
    /// The offset is not below the chip's line count (`line_count` holds the count).
    DD_GPIO_STEP_LINE_RANGE = 3,
    /// `gpiod_line_request_output_flags` failed.
    DD_GPIO_STEP_REQUEST = 4,
} dd_gpio_step;

/// Why `dd_gpio_open_output` failed.
typedef struct dd_gpio_failure {
    dd_gpio_step step;
    /// errno at the failing step.
    int error_number;
    /// Number of lines on the chip (valid from DD_GPIO_STEP_FIND_LINE on).
    unsigned int line_count;
    /// The consumer holding the line when the request failed with EBUSY ("" when unknown).
    char consumer[64];
} dd_gpio_failure;

/// An opened chip with one line requested as an output.
typedef struct dd_gpio_output dd_gpio_output;

/// Opens `chip` (path, name, label or number, as `gpiod_chip_open_lookup` accepts), finds the line by
/// `line_name` (when not NULL, `gpiod_chip_find_line`) or by `offset` (`gpiod_chip_get_line`), and requests
/// it as an output owned by `consumer` with `initial_value` (logical; `active_low` inverts the physical
/// level through GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW). Returns NULL and fills `failure` on error.
dd_gpio_output *dd_gpio_open_output(const char *chip, const char *line_name, unsigned int offset,
                                    int active_low, const char *consumer, int initial_value,
                                    dd_gpio_failure *failure);

/// Sets the line's logical value (0 or 1). Returns 0, or -errno on failure (`gpiod_line_set_value`).
int dd_gpio_set_value(dd_gpio_output *output, int value);

/// Reads back the line's logical value into `value`. Returns 0, or -errno (`gpiod_line_get_value`).
int dd_gpio_get_value(dd_gpio_output *output, int *value);

/// The chip's kernel name, e.g. "gpiochip0" (`gpiod_chip_name`).
const char *dd_gpio_chip_name(const dd_gpio_output *output);

/// The line's offset on its chip (`gpiod_line_offset`).
unsigned int dd_gpio_line_offset(const dd_gpio_output *output);

/// Finds `chip` (path, name, label or number) and writes its kernel name ("gpiochip0") into `name`,
/// without requesting any line. Returns 0, or -errno (`gpiod_chip_open_lookup`, `gpiod_chip_name`).
int dd_gpio_chip_lookup(const char *chip, char *name, size_t size);

/// Releases the line and closes the chip (`gpiod_line_release`, `gpiod_chip_close`). Does not change the
/// line's value: set it first. `output` is invalid afterwards.
void dd_gpio_close(dd_gpio_output *output);

#ifdef __cplusplus
}
#endif

#endif

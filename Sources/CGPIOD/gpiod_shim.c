#include "dd_gpiod.h"

#include <errno.h>
#include <gpiod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dd_gpio_output {
    struct gpiod_chip *chip;
    struct gpiod_line *line;
};

static void copy_text(char *destination, size_t size, const char *source) {
    if (size == 0) return;
    if (source == NULL) { destination[0] = '\0'; return; }
    strncpy(destination, source, size - 1);
    destination[size - 1] = '\0';
}

dd_gpio_output *dd_gpio_open_output(const char *chip_descriptor, const char *line_name, unsigned int offset,
                                    int active_low, const char *consumer, int initial_value,
                                    dd_gpio_failure *failure) {
    memset(failure, 0, sizeof *failure);

    errno = 0;
    struct gpiod_chip *chip = gpiod_chip_open_lookup(chip_descriptor);
    if (chip == NULL) {
        failure->step = DD_GPIO_STEP_OPEN_CHIP;
        failure->error_number = errno != 0 ? errno : ENOENT;
        return NULL;
    }
    failure->line_count = gpiod_chip_num_lines(chip);

    struct gpiod_line *line = NULL;
    errno = 0;
    if (line_name != NULL) {
        line = gpiod_chip_find_line(chip, line_name);
        if (line == NULL) {
            failure->step = DD_GPIO_STEP_FIND_LINE;
            failure->error_number = errno != 0 ? errno : ENOENT;
            gpiod_chip_close(chip);
            return NULL;
        }
    } else {
        if (offset >= failure->line_count) {
            failure->step = DD_GPIO_STEP_LINE_RANGE;
            failure->error_number = EINVAL;
            gpiod_chip_close(chip);
            return NULL;
        }
        line = gpiod_chip_get_line(chip, offset);
        if (line == NULL) {
            failure->step = DD_GPIO_STEP_FIND_LINE;
            failure->error_number = errno != 0 ? errno : EINVAL;
            gpiod_chip_close(chip);
            return NULL;
        }
    }

    int flags = active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    errno = 0;
    if (gpiod_line_request_output_flags(line, consumer, flags, initial_value != 0) != 0) {
        failure->step = DD_GPIO_STEP_REQUEST;
        failure->error_number = errno != 0 ? errno : EIO;
        if (failure->error_number == EBUSY && gpiod_line_update(line) == 0) {
            copy_text(failure->consumer, sizeof failure->consumer, gpiod_line_consumer(line));
        }
        gpiod_chip_close(chip);
        return NULL;
    }

    dd_gpio_output *output = malloc(sizeof *output);
    if (output == NULL) {
        failure->step = DD_GPIO_STEP_REQUEST;
        failure->error_number = ENOMEM;
        gpiod_line_release(line);
        gpiod_chip_close(chip);
        return NULL;
    }
    output->chip = chip;
    output->line = line;
    return output;
}

int dd_gpio_set_value(dd_gpio_output *output, int value) {
    errno = 0;
    if (gpiod_line_set_value(output->line, value != 0) != 0) return errno != 0 ? -errno : -EIO;
    return 0;
}

int dd_gpio_get_value(dd_gpio_output *output, int *value) {
    errno = 0;
    int result = gpiod_line_get_value(output->line);
    if (result < 0) return errno != 0 ? -errno : -EIO;
    *value = result;
    return 0;
}

const char *dd_gpio_chip_name(const dd_gpio_output *output) {
    return gpiod_chip_name(output->chip);
}

unsigned int dd_gpio_line_offset(const dd_gpio_output *output) {
    return gpiod_line_offset(output->line);
}

void dd_gpio_close(dd_gpio_output *output) {
    if (output == NULL) return;
    gpiod_line_release(output->line);
    gpiod_chip_close(output->chip);
    free(output);
}

int dd_gpio_chip_lookup(const char *chip_descriptor, char *name, size_t size) {
    errno = 0;
    struct gpiod_chip *chip = gpiod_chip_open_lookup(chip_descriptor);
    if (chip == NULL) return errno != 0 ? -errno : -ENOENT;
    snprintf(name, size, "%s", gpiod_chip_name(chip));
    gpiod_chip_close(chip);
    return 0;
}

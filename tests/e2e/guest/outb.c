/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * outb PORT VALUE: one byte to an I/O port from the end-to-end tests'
 * Linux guest, whose kernel has no /dev/port.  The tests drive guest
 * interfaces from a chosen vCPU with it (taskset).
 */

#include <stdio.h>
#include <sys/io.h>

int main(int argc, char **argv)
{
    unsigned int port, value;

    /* a guest program, not QEMU: no qemu_strtoul here */
    if (argc != 3 || sscanf(argv[1], "%i", &port) != 1 ||
        sscanf(argv[2], "%i", &value) != 1 || port > 0xffff || value > 0xff) {
        fprintf(stderr, "usage: outb PORT VALUE\n");
        return 2;
    }
    if (iopl(3) < 0) {
        perror("outb: iopl");
        return 1;
    }
    outb(value, port);
    return 0;
}

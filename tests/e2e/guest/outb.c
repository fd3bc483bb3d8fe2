/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * outb PORT VALUE: one byte to an I/O port from the end-to-end tests'
 * Linux guest, whose kernel has no /dev/port.  The tests drive guest
 * interfaces from a chosen vCPU with it (taskset).
 */

#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: outb PORT VALUE\n");
        return 2;
    }
    if (iopl(3) < 0) {
        perror("outb: iopl");
        return 1;
    }
    outb(strtoul(argv[2], NULL, 0), strtoul(argv[1], NULL, 0));
    return 0;
}

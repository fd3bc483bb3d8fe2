/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * readloop FILE REF N: read FILE N times (open, read, close), each time
 * checking it holds the bytes of REF; exit 7 at the first read that
 * fails or differs.  The benchmark times efivarfs reads with it: one
 * process for the whole loop, so what it measures is the read (for
 * efivarfs, OVMF's variable service in SMM), not process creation,
 * which under TCG costs more than the read.
 */

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static ssize_t read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    ssize_t len;

    if (fd < 0) {
        return -1;
    }
    len = read(fd, buf, size);
    close(fd);
    return len;
}

int main(int argc, char **argv)
{
    char ref[4096], buf[4096];
    ssize_t ref_len;
    unsigned int n, i;

    if (argc != 4 || sscanf(argv[3], "%u", &n) != 1) {
        fprintf(stderr, "usage: readloop FILE REF N\n");
        return 2;
    }
    ref_len = read_file(argv[2], ref, sizeof(ref));
    if (ref_len <= 0) {
        perror("readloop: REF");
        return 2;
    }
    for (i = 0; i < n; i++) {
        if (read_file(argv[1], buf, sizeof(buf)) != ref_len ||
            memcmp(buf, ref, ref_len)) {
            fprintf(stderr, "readloop: read %u of %s failed or differs\n",
                    i, argv[1]);
            return 7;
        }
    }
    return 0;
}

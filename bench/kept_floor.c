/* The floor of a per-process scan: read stat, status and io of every PID in /proc, either
 * through descriptors kept open from the round before (pread at offset 0, which procfs
 * answers afresh) or with open/read/close per file, as node_exporter and process-exporter do.
 * Nothing is parsed. Prints one line per timed round: "<mode> <pids> <ms>".
 *
 *   cc -O2 -o kept_floor bench/kept_floor.c
 *   kept_floor kept|open ROUNDS [COMM]   (COMM: only PIDs whose stat names it)
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *files[] = {"stat", "status", "io"};
enum { NFILES = 3 };
static char buf[16384];

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* The PIDs to read: every numeric entry of /proc, or those whose comm is `comm`. */
static int list(int *pids, int max, const char *comm) {
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) && n < max) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        int pid = atoi(e->d_name);
        if (comm) {
            char path[64], want[64];
            snprintf(path, sizeof path, "/proc/%d/stat", pid);
            int fd = open(path, O_RDONLY);
            if (fd < 0)
                continue;
            ssize_t r = read(fd, buf, sizeof buf - 1);
            close(fd);
            snprintf(want, sizeof want, "(%s)", comm);
            if (r <= 0 || (buf[r] = 0, !strstr(buf, want)))
                continue;
        }
        pids[n++] = pid;
    }
    if (d)
        closedir(d);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "kept") && strcmp(argv[1], "open"))) {
        fprintf(stderr, "usage: %s kept|open ROUNDS [COMM]\n", argv[0]);
        return 2;
    }
    int kept = !strcmp(argv[1], "kept"), rounds = atoi(argv[2]);
    enum { MAX = 1 << 16 };
    static int pids[MAX], fds[MAX][NFILES];
    int n = list(pids, MAX, argc > 3 ? argv[3] : NULL);
    for (int i = 0; i < n; i++)
        for (int f = 0; f < NFILES; f++) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/%s", pids[i], files[f]);
            fds[i][f] = kept ? open(path, O_RDONLY | O_CLOEXEC) : -1;
        }
    long sink = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ms();
        for (int i = 0; i < n; i++)
            for (int f = 0; f < NFILES; f++) {
                if (kept) {
                    sink += pread(fds[i][f], buf, sizeof buf, 0);
                    continue;
                }
                char path[64];
                snprintf(path, sizeof path, "/proc/%d/%s", pids[i], files[f]);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                    sink += read(fd, buf, sizeof buf);
                    close(fd);
                }
            }
        printf("%s %d %.3f\n", argv[1], n, now_ms() - t0);
        fflush(stdout);
    }
    return sink < 0;
}

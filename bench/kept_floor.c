/* The floor of a per-process scan: read a fixed set of per-PID files of every PID in /proc,
 * either through descriptors kept open from the round before (pread at offset 0, which procfs
 * answers afresh) or with open/read/close per file, as node_exporter and process-exporter do.
 * Nothing is parsed. "fd" in FILES is an fstat of /proc/<pid>/fd (its size is the number of
 * open fds on Linux 6.2+), as proctap counts them.
 *
 *   cc -O2 -o kept_floor bench/kept_floor.c
 *   kept_floor kept|open FILES [COMM]    e.g. kept stat,status,io
 *
 * It lists the PIDs (those whose comm is COMM, when given), opens the kept descriptors (as many
 * as RLIMIT_NOFILE, raised to its hard limit, allows less 64; the rest are opened each round,
 * as proctap does beyond its cap), prints
 * "ready <pids> <kept>", then does one round per line read on stdin and prints "<pids> <ms>".
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { MAXPIDS = 1 << 16, MAXFILES = 8 };
static char buf[16384];
static const char *files[MAXFILES];
static int nfiles;
static int pids[MAXPIDS], fds[MAXPIDS][MAXFILES];

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int list(const char *comm) {
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    char path[64], want[64];
    while (d && (e = readdir(d)) && n < MAXPIDS) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        int pid = atoi(e->d_name);
        if (comm) {
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

static int open_file(int pid, const char *name) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", pid, name);
    return open(path, O_RDONLY | O_CLOEXEC | (strcmp(name, "fd") ? 0 : O_DIRECTORY));
}

static long read_file(int fd, const char *name) {
    struct stat st;
    if (!strcmp(name, "fd"))
        return fstat(fd, &st) == 0 ? (long)st.st_size : -1;
    return pread(fd, buf, sizeof buf, 0);
}

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "kept") && strcmp(argv[1], "open"))) {
        fprintf(stderr, "usage: %s kept|open FILES [COMM]\n", argv[0]);
        return 2;
    }
    int kept = !strcmp(argv[1], "kept");
    for (char *f = strtok(argv[2], ","); f && nfiles < MAXFILES; f = strtok(NULL, ","))
        files[nfiles++] = f;
    struct rlimit lim = {1024, 1024};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
    int n = list(argc > 3 ? argv[3] : NULL), held = 0;
    /* Room for the files opened each round beyond what can be kept. */
    long room = (long)lim.rlim_cur - 64;
    for (int i = 0; i < n; i++)
        for (int f = 0; f < nfiles; f++) {
            fds[i][f] = kept && held < room ? open_file(pids[i], files[f]) : -1;
            held += fds[i][f] >= 0;
        }
    printf("ready %d %d\n", n, held);
    fflush(stdout);
    long sink = 0;
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        double t0 = now_ms();
        for (int i = 0; i < n; i++)
            for (int f = 0; f < nfiles; f++) {
                if (fds[i][f] >= 0) {
                    sink += read_file(fds[i][f], files[f]);
                    continue;
                }
                int fd = open_file(pids[i], files[f]);
                if (fd >= 0) {
                    sink += read_file(fd, files[f]);
                    close(fd);
                }
            }
        printf("%d %.3f\n", n, now_ms() - t0);
        fflush(stdout);
    }
    return sink < 0;
}

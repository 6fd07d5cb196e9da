/* A syscall-heavy workload for the eBPF overhead benchmark: RATE system
 * calls per second (getppid, paced in 1 ms slices) for SECONDS seconds,
 * then prints the CPU time it used (user + system, microseconds) and the
 * calls it made.
 *
 *   syscalls RATE SECONDS */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: syscalls RATE SECONDS\n");
        return 2;
    }
    long rate = atol(argv[1]);
    double seconds = atof(argv[2]);
    long per_ms = rate / 1000;
    long long start = now_ns(), end = start + (long long)(seconds * 1e9);
    long long slice = start;
    long calls = 0;
    while (slice < end) {
        for (long i = 0; i < per_ms; i++) {
            syscall(SYS_getppid);
        }
        calls += per_ms;
        slice += 1000000;
        long long wait = slice - now_ns();
        if (wait > 0) {
            struct timespec ts = {0, wait};
            nanosleep(&ts, NULL);
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long long cpu_us = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL +
                       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
    double wall = (now_ns() - start) / 1e9;
    printf("{\"cpu_us\": %lld, \"calls\": %ld, \"wall_s\": %.3f}\n", cpu_us, calls, wall);
    return 0;
}

/* The test workload of the ebpf receiver's tests: known system calls,
 * sleeps, TCP connects to a loopback server, one refused connect, and a
 * CPU-bound loop (SPIN_MS of CPU time) in a function compiled with frame
 * pointers.
 *
 *   workload PORT REFUSED_PORT GETPPID_CALLS SLEEPS CONNECTS SPIN_MS
 *
 * Prints "done" when finished, then waits for its stdin to close. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline)) unsigned long weir_hot_loop(unsigned long n) {
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < n; i++) {
        x += i * i;
    }
    return x;
}

/* CPU time of this process, so the spin gets its samples however busy
 * the machine is. */
static double cpu_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int connect_to(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(s, (struct sockaddr *)&a, sizeof a);
    close(s);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: workload PORT REFUSED_PORT GETPPID SLEEPS CONNECTS SPIN_MS\n");
        return 2;
    }
    int port = atoi(argv[1]), refused = atoi(argv[2]);
    long getppids = atol(argv[3]), sleeps = atol(argv[4]), connects = atol(argv[5]);
    double spin_ms = atof(argv[6]);

    for (long i = 0; i < getppids; i++) {
        syscall(SYS_getppid);
    }
    struct timespec ts = {0, 20 * 1000 * 1000};
    for (long i = 0; i < sleeps; i++) {
        nanosleep(&ts, NULL);
    }
    for (long i = 0; i < connects; i++) {
        if (connect_to(port) != 0) {
            perror("connect");
            return 1;
        }
    }
    if (connect_to(refused) == 0) {
        fprintf(stderr, "connect to the refused port succeeded\n");
        return 1;
    }
    double until = cpu_ms() + spin_ms;
    unsigned long sink = 0;
    while (cpu_ms() < until) {
        sink += weir_hot_loop(1000000);
    }
    printf("done %lu\n", sink & 1);
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {
    }
    return 0;
}

/* A stand-in for memcached: prints its version with -V, else says it would serve. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "-V") == 0) {
        puts("memcached 1.6.25");
        return 0;
    }
    puts("memcached stand-in: would listen on 11211");
    return 0;
}

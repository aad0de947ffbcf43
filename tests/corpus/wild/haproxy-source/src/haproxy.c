/* A stand-in for haproxy: -v prints a version and the linked OpenSSL's. */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        printf("HAProxy version 2.8.10 (%s)\n", OpenSSL_version(OPENSSL_VERSION));
        return 0;
    }
    puts("haproxy stand-in");
    return 0;
}

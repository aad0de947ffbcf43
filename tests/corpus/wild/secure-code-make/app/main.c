#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    char buf[64];
    strncpy(buf, argc > 1 ? argv[1] : "guest", sizeof buf - 1);
    buf[63] = 0;
    printf("hello %s\n", buf);
    return 0;
}

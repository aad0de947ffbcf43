/* A stand-in for Apache httpd. */
#include <stdio.h>

int main(void) {
    puts("Server version: Apache/2.4.17 (Unix) stand-in");
    return 0;
}

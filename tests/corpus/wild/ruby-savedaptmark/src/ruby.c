/* A stand-in for ruby, linked against libyaml as ruby's psych is. */
#include <stdio.h>
#include <yaml.h>
#include "version.h"

int main(void) {
    int major, minor, patch;
    yaml_get_version(&major, &minor, &patch);
    printf("ruby %s stand-in (libyaml %d.%d.%d)\n", RUBY_VERSION, major, minor, patch);
    return 0;
}

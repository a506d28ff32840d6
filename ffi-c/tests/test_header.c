/* kes.h compiles alone as C11 with -Wall -Wextra -Werror -pedantic. */
#include <kes.h>

int main(void) {
    kes_result r = KES_OK;
    return (int)r + (kes_version() == NULL);
}

// kes.h compiles alone as C++17 with -Wall -Wextra -Werror -pedantic, and links.
#include <kes.h>

#include <cstring>

int main() {
    kes_keys *keys = nullptr;
    kes_error *err = nullptr;
    kes_result r = kes_keys_in_memory(&keys, &err);
    if (r != KES_OK) return 1;
    r = kes_create_key(keys, "cpp", &err);
    kes_keys_free(keys);
    return r == KES_OK && std::strcmp(kes_result_name(KES_OK), "KES_OK") == 0 ? 0 : 1;
}

"""asyncio: the same calls as coroutines, many in flight on one event loop.

    python examples/python/async_keys.py
"""

from __future__ import annotations

import asyncio
from typing import List

import kesrs


async def main() -> None:
    async with kesrs.AsyncKeys.in_memory() as keys:
        await keys.create_key("my-app")
        names = [f"my-bucket/object-{n}" for n in range(100)]
        deks: List[kesrs.DataKey] = await asyncio.gather(
            *(keys.generate_key("my-app", {"my-bucket": name}) for name in names)
        )
        plaintexts = await asyncio.gather(
            *(
                keys.decrypt("my-app", dek.ciphertext, {"my-bucket": name})
                for dek, name in zip(deks, names)
            )
        )
        assert all(p == dek.plaintext for p, dek in zip(plaintexts, deks))
        print(f"{len(deks)} data keys made and opened")
        try:
            await keys.describe_key("missing")
        except kesrs.KeyNotFoundError as err:
            print(f"{type(err).__name__}: {err.code} {err.status} {err.message!r}")


if __name__ == "__main__":
    asyncio.run(main())

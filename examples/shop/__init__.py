"""A small package for `ucode add examples/shop` (docs/cli.md, ucode add): a re-export (`shop.quote`), and a
module that imports its own package absolutely (`from shop.catalog import price_of`), which `--namespace`
rewrites."""

from .pricing import quote as quote

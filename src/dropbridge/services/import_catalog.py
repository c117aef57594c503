"""Catalog import: supplier rows that carry catalog data become Products and Variants, with options,
sanitised descriptions, mapped categories and stored images.

- A product is keyed by the row's parent SKU (a row without one is its own product); its variants by the
  supplier's SKU, unless the row's GTIN matches an existing variant: then the row is the same item from
  another source and attaches to that variant (recorded in variant_sources with matched_by="gtin"), which
  is what lets offers from several suppliers compete for one order line.
- The supplier whose feed created a product owns its content; other suppliers only fill blanks.
- Category rules live in the supplier's config (`category_rules`): they are per supplier, ordered (first
  match wins) and few, and travel with the rest of its feed configuration (`feed`, `images`).
- Images are downloaded outside any transaction (never holding the write lock over the network), once
  per URL, deduplicated by content hash; a bad image is a reported problem, never a failed import.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import nh3
import structlog

from dropbridge.domain.catalog import (
    CatalogRow,
    ProductGroup,
    choose_variant,
    group_rows,
    gtin_forms,
    gtin_key,
    image_plan,
    map_category,
    parse_category_rules,
    variant_title,
)
from dropbridge.domain.errors import ConfigurationError, DuplicateKey, NotFound
from dropbridge.domain.model import CatalogImage, Product, ProductImage, Variant, VariantSource

from .image_port import ImagePolicy, ImageRejected, sha256_hex
from .records import audit

CHUNK_ROWS = 1000  # rows per transaction: bounded memory and lock time on a large catalog
# Two suppliers' imports running at once on PostgreSQL can both find a parent or variant SKU unused and
# both insert it; the later one's chunk then fails on the unique key. Redone, the chunk sees the row the
# other import committed and takes the path it takes for any existing row (namespacing, matching).
CHUNK_ATTEMPTS = 3

log = structlog.get_logger("dropbridge.catalog")

# ---- descriptions ------------------------------------------------------------------------------------

ALLOWED_TAGS = {
    "p", "div", "br", "hr", "b", "strong", "i", "em", "u", "s", "sub", "sup", "small", "span",
    "ul", "ol", "li", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
    "table", "thead", "tbody", "tr", "th", "td", "a",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
_BLOCK_END = re.compile(r"<(?:br\s*/?|hr\s*/?|/(?:p|div|li|h[1-6]|tr|dt|dd|blockquote|ul|ol|table))>", re.I)
_LOOKS_LIKE_HTML = re.compile(r"<[a-zA-Z!/]")


def sanitize_description(text: str | None) -> str:
    """Safe HTML for a store: basic formatting only. Scripts and styles go with their content, event
    handlers and style attributes are dropped, links keep only http(s)/mailto URLs and get
    rel="noopener noreferrer nofollow"; images are dropped (ours are stored and served separately).
    Plain text (no tags) becomes paragraphs, its line breaks kept."""
    if not text or not text.strip():
        return ""
    if not _LOOKS_LIKE_HTML.search(text):
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
        return "".join("<p>" + html.escape(p, quote=False).replace("\n", "<br>") + "</p>" for p in paragraphs)
    return nh3.clean(
        text,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        clean_content_tags={"script", "style"},
    ).strip()


def description_text(safe_html: str) -> str:
    """Plain text of sanitised HTML, one line per block, for search and stores without HTML."""
    text = nh3.clean(_BLOCK_END.sub("\n", safe_html), tags=set(), clean_content_tags={"script", "style"})
    lines = (" ".join(html.unescape(line).split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


# ---- report ------------------------------------------------------------------------------------------


@dataclass
class ImportProblem:
    line: int  # the feed line (0: not tied to one line)
    field: str  # sku | options | image | ...
    reason: str
    url: str | None = None
    detail: str | None = None


@dataclass
class ImportReport:
    """Counts of one import. Images are counted per reference (a product's row listing a URL): each is
    stored (a new file), deduplicated (content already stored, found by URL or by SHA-256), or rejected.
    `images_fetched` counts completed downloads, whatever they turned out to hold; a URL is downloaded at
    most once per import, and not at all once it served a stored image."""

    rows_read: int = 0  # rows with catalog data
    rows_skipped: int = 0  # rows without catalog data, or refused (see problems)
    products_created: int = 0
    products_updated: int = 0
    variants_created: int = 0
    variants_updated: int = 0
    variants_matched_gtin: int = 0
    images_fetched: int = 0
    images_stored: int = 0
    images_deduplicated: int = 0
    images_rejected: int = 0
    problems: list[ImportProblem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}


# ---- the use case ------------------------------------------------------------------------------------


def import_catalog(ctx, supplier_name: str, rows: Iterable[Any], *, fetch_images: bool = True,
                   chunk_rows: int = CHUNK_ROWS, skip_skus: Collection[str] = ()) -> ImportReport:
    """Create or update Products and Variants from `rows` (ParsedRow-like: line, sku, gtin, currency,
    catalog) of one supplier. Rows without `catalog` are skipped; they carry stock and cost only. So are
    rows of `skip_skus`: SKUs that now name another item than they were mapped to (services/offer_drift.py),
    whose rows must not rewrite that variant."""
    with ctx.uow(read_only=True) as uow:
        supplier = uow.suppliers.by_name(supplier_name)
        if supplier is None:
            raise NotFound(f"no supplier named {supplier_name!r}")
    cfg = dict(supplier.config or {})
    try:
        rules = parse_category_rules(cfg.get("category_rules"))
        policy = _image_policy(ctx, cfg) if fetch_images else None
    except ValueError as exc:
        raise ConfigurationError(f"supplier {supplier_name}: {exc}") from exc

    report = ImportReport()
    run = _Run(ctx, supplier.id, supplier.name, rules, policy, report)
    try:
        for chunk in _chunks(rows, chunk_rows, report, skip_skus):
            groups, issues = group_rows(chunk)
            report.problems.extend(ImportProblem(i.line, i.field, i.reason) for i in issues)
            work = run.import_groups(groups)
            if policy is not None and work:
                run.import_images(work)
    finally:
        run.close()
    with ctx.uow() as uow:
        audit(uow, ctx, "catalog.imported", f"supplier:{supplier.name}",
              {**report.counts(), "problems": len(report.problems)}, supplier_id=supplier.id)
        uow.commit()
    report.problems.sort(key=lambda p: p.line)
    return report


def _image_policy(ctx, cfg: dict) -> ImagePolicy:
    settings = ctx.settings
    defaults = {name: getattr(settings, f"image_{name}", None)
                for name in ("max_bytes", "max_pixels", "max_dimension", "format")}
    return ImagePolicy.from_config(cfg.get("images"), **defaults)


def _chunks(rows: Iterable[Any], size: int, report: ImportReport,
            skip_skus: Collection[str] = ()) -> Iterator[list[CatalogRow]]:
    chunk: list[CatalogRow] = []
    for row in rows:
        if not row.catalog:
            report.rows_skipped += 1
            continue
        if row.sku in skip_skus:
            report.rows_skipped += 1
            report.problems.append(ImportProblem(row.line, "sku", f"{row.sku} names another item than it was "
                                                 "mapped to: offer quarantined, catalog data not imported"))
            continue
        report.rows_read += 1
        chunk.append(_catalog_row(row))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _catalog_row(row: Any) -> CatalogRow:
    c = row.catalog
    text = lambda key: (str(c.get(key)).strip() or None) if c.get(key) is not None else None  # noqa: E731
    return CatalogRow(
        line=row.line, sku=row.sku, parent_sku=text("parent_sku"), gtin=gtin_key(row.gtin),
        title=text("title"), description=c.get("description") or None,
        options={str(k).strip(): str(v).strip() for k, v in (c.get("options") or {}).items() if str(v).strip()},
        images=tuple(u.strip() for u in (c.get("images") or []) if u and u.strip()),
        brand=text("brand"), mpn=text("mpn"), category=text("category"), status=text("status"),
        msrp_minor=c.get("msrp_minor"), map_minor=c.get("map_minor"), currency=row.currency,
        weight=text("weight"), weight_unit=text("weight_unit"),
    )


@dataclass
class _ImageWork:
    product_id: int
    replace: bool  # this supplier owns the product: its links replace its earlier ones
    items: list[tuple[str, int | None, int]]  # (url, variant id or None, feed line)


class _Run:
    """State of one import across chunks: caches that make each URL and each content hash cost once."""

    def __init__(self, ctx, supplier_id: int, supplier_name: str, rules, policy: ImagePolicy | None,
                 report: ImportReport):
        self.ctx = ctx
        self.supplier_id = supplier_id
        self.supplier_name = supplier_name
        self.rules = rules
        self.policy = policy
        self.report = report
        self.relinked: set[int] = set()  # products whose links this run already reset
        self.url_results: dict[str, int | ImageRejected] = {}  # url -> image id, or why not
        self.fetcher = ctx.images.fetcher() if policy is not None else None  # one session for the whole run

    def close(self) -> None:
        if self.fetcher is not None:
            self.fetcher.close()

    # -- products and variants -------------------------------------------------------------------------

    def import_groups(self, groups: list[ProductGroup]) -> list[_ImageWork]:
        """One chunk in one transaction, redone (its counts with it) when a concurrent import took a key."""
        attempt = 1
        while True:
            before = replace(self.report, problems=list(self.report.problems))
            try:
                return self._import_groups(groups)
            except DuplicateKey as exc:
                if attempt == CHUNK_ATTEMPTS:
                    raise
                log.info("catalog chunk met a concurrent import; redoing it", supplier=self.supplier_name,
                         attempt=attempt, error=str(exc))
                self.report.__dict__.update(before.__dict__)
                attempt += 1

    def _import_groups(self, groups: list[ProductGroup]) -> list[_ImageWork]:
        now = self.ctx.clock()
        work: list[_ImageWork] = []
        with self.ctx.uow() as uow:
            repo = uow.catalog_import
            skus = [r.sku for g in groups for r in g.variants]
            sources = repo.sources(self.supplier_id, skus)
            gtins = {r.gtin for g in groups for r in g.variants if r.gtin}
            by_gtin: dict[str, list[Variant]] = {}
            for v in repo.variants_by_gtin(sorted({f for k in gtins for f in gtin_forms(k)})):
                by_gtin.setdefault(gtin_key(v.gtin) or "", []).append(v)
            by_sku = repo.variants_by_sku(skus)
            by_id = repo.variants_by_id([s.variant_id for s in sources.values()])
            by_id.update({v.id: v for v in by_sku.values()})
            by_id.update({v.id: v for vs in by_gtin.values() for v in vs})
            product_keys = [g.key for g in groups] + [self._namespaced(g.key) for g in groups]
            products = repo.products_by_sku(product_keys)
            products_by_id = repo.products_by_id(sorted({v.product_id for v in by_id.values() if v.product_id}))
            for group in groups:
                item = self._import_group(uow, group, now, sources, by_gtin, by_sku, by_id, products,
                                          products_by_id)
                if item is not None:
                    work.append(item)
            uow.commit()
        return work

    def _namespaced(self, key: str) -> str:
        return f"{self.supplier_name}:{key}"

    def _import_group(self, uow, group, now, sources, by_gtin, by_sku, by_id, products, products_by_id):
        report = self.report
        choices = {}
        for row in group.variants:
            src = sources.get(row.sku)
            sku_var = by_sku.get(row.sku)
            choice = choose_variant(row.gtin, src.variant_id if src else None,
                                    [v.id for v in by_gtin.get(row.gtin, [])] if row.gtin else [],
                                    (sku_var.id, gtin_key(sku_var.gtin)) if sku_var else None)
            if choice.kind == "conflict":
                report.problems.append(ImportProblem(row.line, "gtin", f"{row.sku}: {choice.reason}; not imported"))
                report.rows_skipped += 1
                continue
            choices[row.sku] = choice
        if not choices and not group.parent_row:
            return None

        product, created = self._product_for(uow, group, choices, by_id, products, products_by_id, now)
        changed = self._apply_product(product, group, now)
        owner = product.supplier_id == self.supplier_id
        if created:
            report.products_created += 1
        elif changed:
            report.products_updated += 1

        variant_ids: dict[str, int] = {}
        for position, row in enumerate(group.variants):
            choice = choices.get(row.sku)
            if choice is None:
                continue
            variant = self._apply_variant(uow, row, choice, product, group, position, sources, by_id, now)
            variant_ids[row.sku] = variant.id
            if row.gtin and row.gtin not in by_gtin:
                by_gtin[row.gtin] = [variant]  # a later row of this chunk with the same GTIN finds it
            by_sku.setdefault(row.sku, variant)

        if self.policy is None:
            return None
        if not owner and uow.catalog_import.image_links(product.id):
            return None  # another supplier's product that already has pictures: not ours to change
        items = [(url, variant_ids.get(sku) if sku else None, line) for url, sku, line in image_plan(group)]
        return _ImageWork(product.id, owner, items) if items else None

    def _product_for(self, uow, group, choices, by_id, products, products_by_id, now):
        for choice in choices.values():  # the product a known variant already belongs to
            variant = by_id.get(choice.variant_id) if choice.variant_id else None
            if variant is not None and variant.product_id:
                product = products_by_id.get(variant.product_id) or uow.get(Product, variant.product_id)
                return product, False
        for key in (group.key, self._namespaced(group.key)):
            product = products.get(key)
            if product is not None and product.supplier_id in (None, self.supplier_id):
                return product, False
        # A parent SKU another supplier already uses for its own product is a different item: namespace it.
        key = group.key if group.key not in products else self._namespaced(group.key)
        product = uow.add(Product(sku=key, supplier_id=self.supplier_id, created_at=now, updated_at=now))
        uow.flush()
        products[key] = products_by_id[product.id] = product
        return product, True

    def _apply_product(self, product: Product, group: ProductGroup, now) -> bool:
        if product.supplier_id is None:
            product.supplier_id = self.supplier_id  # adopt a bare product nobody's feed described yet
        owner = product.supplier_id == self.supplier_id
        title = group.first("title") or ""
        raw_description = group.first("description")
        safe = sanitize_description(raw_description) if raw_description else None
        supplier_category = group.first("category")
        match = map_category(self.rules, supplier_category, title)
        values = {
            "title": title,
            "description_html": safe,
            "description": description_text(safe) if safe else None,
            "brand": group.first("brand"),
            "supplier_category": supplier_category,
            "category": match.category if match else None,
        }
        changed = False
        for name, value in values.items():
            current = getattr(product, name)
            if (owner and value is not None and value != current) or (not owner and not current and value):
                setattr(product, name, value)
                changed = True
        names = list(product.option_names or [])
        folded = {n.casefold() for n in names}
        names += [n for n in group.option_names if n.casefold() not in folded]
        if names != (product.option_names or []):
            product.option_names = names
            changed = True
        if changed:
            product.updated_at = now
        return changed

    def _apply_variant(self, uow, row, choice, product, group, position, sources, by_id, now) -> Variant:
        report = self.report
        src = sources.get(row.sku)
        if choice.kind == "new":
            variant = uow.add(Variant(sku=row.sku, product_id=product.id))
            owner, created = True, True
        else:
            variant = by_id.get(choice.variant_id) or uow.get(Variant, choice.variant_id)
            owner = choice.kind == "sku" or (src is not None and src.matched_by in ("created", "sku"))
            created = False
        values = {
            "product_id": product.id,
            "title": variant_title(row, group.option_names),
            "gtin": row.gtin,
            "options": dict(row.options) or None,
            "position": position,
            "mpn": row.mpn,
            "msrp_minor": row.msrp_minor,
            "map_minor": row.map_minor,
            "currency": row.currency if (row.msrp_minor is not None or row.map_minor is not None) else None,
            "weight": row.weight,
            "weight_unit": row.weight_unit,
            "status": row.status,
        }
        changed = False
        for name, value in values.items():
            current = getattr(variant, name)
            if (owner and value is not None and value != current) or (not owner and current in (None, "")
                                                                       and value is not None):
                setattr(variant, name, value)
                changed = True
        if created or changed:
            uow.flush()
            by_id[variant.id] = variant
        if src is None:
            matched_by = {"new": "created", "gtin": "gtin", "sku": "sku"}[choice.kind]
            sources[row.sku] = uow.add(VariantSource(supplier_id=self.supplier_id, supplier_sku=row.sku,
                                                     variant_id=variant.id, matched_by=matched_by, gtin=row.gtin,
                                                     created_at=now, updated_at=now))
            if choice.kind == "gtin":
                report.variants_matched_gtin += 1
        elif src.gtin != row.gtin:
            src.gtin, src.updated_at = row.gtin, now
        if created:
            report.variants_created += 1
        elif changed and choice.kind != "gtin":
            report.variants_updated += 1
        return variant

    # -- images ------------------------------------------------------------------------------------------

    def import_images(self, work: list[_ImageWork]) -> None:
        policy, report = self.policy, self.report
        assert policy is not None and self.fetcher is not None
        urls = list(dict.fromkeys(url for w in work for url, _, _ in w.items if url not in self.url_results))
        url_hash = {url: sha256_hex(url.encode()) for url in urls}
        with self.ctx.uow(read_only=True) as uow:
            known = uow.catalog_import.fetched_urls(list(url_hash.values()))
            stored = uow.catalog_import.images_by_source(sorted(set(known.values())), policy.profile)

        # Network and decoding happen here, outside any transaction.
        new_files: dict[str, tuple[str, Any]] = {}  # source sha -> (relative path, ProcessedImage)
        fetched: dict[str, str] = {}  # url -> source sha, to record
        sources_of: dict[str, str] = {}  # url -> source sha
        for url in urls:
            source = known.get(url_hash[url])
            if source is not None and source in stored:
                sources_of[url] = source
                continue
            try:
                data = self.fetcher.fetch(url, policy.max_bytes)
                report.images_fetched += 1
                source = sha256_hex(data)
                if source not in stored and source not in new_files:
                    with self.ctx.uow(read_only=True) as uow:  # the same picture under another URL?
                        stored.update(uow.catalog_import.images_by_source([source], policy.profile))
                if source not in stored and source not in new_files:
                    processed = self.ctx.images.process(data, policy)
                    new_files[source] = (self.ctx.images.store(processed), processed)
            except ImageRejected as exc:
                self.url_results[url] = exc
                continue
            sources_of[url] = fetched[url] = source

        now = self.ctx.clock()
        new_ids: set[int] = set()
        with self.ctx.uow() as uow:
            repo = uow.catalog_import
            for url, source in fetched.items():
                repo.record_url(url, url_hash[url], source, now)
            rows = repo.images_by_source(sorted(set(sources_of.values())), policy.profile)
            for source, (path, p) in new_files.items():
                if source in rows:
                    continue
                image, added = repo.add_image_if_absent(CatalogImage(
                    source_sha256=source, profile=policy.profile, sha256=p.sha256, path=path, format=p.format,
                    width=p.width, height=p.height, size_bytes=len(p.data), created_at=now))
                rows[source] = image
                if added:
                    new_ids.add(image.id)
            for url, source in sources_of.items():
                self.url_results[url] = rows[source].id
            for w in work:
                self._link(uow, w, new_ids)
            uow.commit()

    def _link(self, uow, w: _ImageWork, new_ids: set[int]) -> None:
        report, repo = self.report, uow.catalog_import
        if w.replace and w.product_id not in self.relinked:
            repo.delete_image_links(w.product_id, self.supplier_id)
            self.relinked.add(w.product_id)
        existing = repo.image_links(w.product_id)
        linked = {link.image_id for link in existing}
        position = max((link.position for link in existing), default=-1) + 1
        for url, variant_id, line in w.items:
            result = self.url_results[url]
            if isinstance(result, ImageRejected):
                report.images_rejected += 1
                report.problems.append(ImportProblem(line, "image", result.reason, url=url, detail=result.detail))
                continue
            if result in new_ids:
                new_ids.discard(result)  # the first reference stores it; later ones reuse it
                report.images_stored += 1
            else:
                report.images_deduplicated += 1
            if result in linked:
                continue  # the same picture under another URL: once per product
            linked.add(result)
            uow.add(ProductImage(product_id=w.product_id, image_id=result, variant_id=variant_id,
                                 supplier_id=self.supplier_id, position=position, source_url=url))
            position += 1

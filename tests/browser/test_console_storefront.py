"""The storefront's console pages in Chromium: pictures uploaded by the browser straight to
the bucket (moto's S3 here) and arranged on the product's page, the product's content, and
the category tree (a category still in use is not deleted, and the page says why)."""

from __future__ import annotations

import struct
import uuid
import zlib

import pytest
import requests

from tests.browser.conftest import wait_until
from tests.browser.test_console import owner_signs_in

pytestmark = pytest.mark.integration


def png(rgb: tuple[int, int, int], size: int = 8) -> bytes:
    """A real PNG of one colour (the browser decodes it: its natural width is `size`)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def csp_violations(page) -> list[str]:
    found = []
    page.on("console", lambda m: found.append(m.text) if "Content Security Policy" in m.text else None)
    return found


def thumbs(page, box: str) -> list[str]:
    return [li.get_attribute("data-url") for li in page.locator(f"{box} .thumbs li").all()]


def loaded(page, box: str) -> bool:
    """Every thumbnail of the list decoded (the CSP let the image base's origin in)."""
    return page.evaluate(f"""() => Array.from(document.querySelectorAll("{box} .thumbs img"))
                                     .every(i => i.complete && i.naturalWidth > 0)""")


def test_pictures_go_from_the_browser_to_the_bucket_and_are_what_the_mini_program_shows(
        browser_page, console_url, client, admin_headers, shop, tmp_path):
    from tests.helpers import create_product

    page = browser_page
    violations = csp_violations(page)
    product = create_product(client, admin_headers, price=1990, stock=10, title="图片-" + uuid.uuid4().hex[:6])
    sku_id = product["skus"][0]["id"]
    red, blue = tmp_path / "red.png", tmp_path / "blue.png"
    red.write_bytes(png((220, 30, 30)))
    blue.write_bytes(png((30, 30, 220)))
    owner_signs_in(page, console_url, f"/console/products/{product['id']}")

    page.set_input_files("#images-list input[type=file]", [str(red), str(blue)])
    wait_until(lambda: len(thumbs(page, "#images-list")) == 2)
    wait_until(lambda: loaded(page, "#images-list"))
    red_url, blue_url = thumbs(page, "#images-list")
    assert requests.get(red_url, timeout=10).content == red.read_bytes()  # in the bucket, as sent
    assert page.locator("#images-list .thumbs li").first.locator(".cover-badge").inner_text() == "封面"
    page.locator("#images-list .thumbs li").nth(1).locator("button[data-act=cover]").click()  # blue first
    assert thumbs(page, "#images-list") == [blue_url, red_url]
    page.locator("#images-list .thumbs li").first.locator("button[data-act=down]").click()
    assert thumbs(page, "#images-list") == [red_url, blue_url]
    page.locator("#images-list .thumbs li").nth(1).locator("button[data-act=up]").click()
    assert thumbs(page, "#images-list") == [blue_url, red_url]
    if page.width_name == "desktop":  # dragged with a mouse (a phone has the buttons)
        page.drag_and_drop("#images-list .thumbs li:nth-child(2) img", "#images-list .thumbs li:nth-child(1) img")
        assert thumbs(page, "#images-list") == [red_url, blue_url]
        page.drag_and_drop("#images-list .thumbs li:nth-child(2) img", "#images-list .thumbs li:nth-child(1) img")
        assert thumbs(page, "#images-list") == [blue_url, red_url]
    page.set_input_files("#detail-images-list input[type=file]", str(red))
    wait_until(lambda: len(thumbs(page, "#detail-images-list")) == 1)
    [detail_url] = thumbs(page, "#detail-images-list")  # a key of its own: keys are never reused
    assert detail_url != red_url

    form = page.locator("#edit-form")
    form.locator("textarea[name=description]").fill("手工拉坯,容量 200 毫升。")
    form.locator("input[name=tags]").fill("新品 包邮")
    form.locator("input[name=sort_weight]").fill("5")
    form.locator(f"input[name=list_price_{sku_id}]").fill("29.9")
    form.locator(f"input[name=weight_g_{sku_id}]").fill("350")
    form.locator(f"input[name=spec_{sku_id}]").fill("颜色:红 容量:200毫升")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{console_url}/console/products/{product['id']}")
    assert page.inner_text("#flash") == "已保存"

    assert thumbs(page, "#images-list") == [blue_url, red_url]  # the product's page, after saving
    wait_until(lambda: loaded(page, "#images-list"))
    assert page.locator("#spec-matrix").inner_text().count("颜色") == 1
    shown = requests.get(f"{console_url}/products/{product['id']}", timeout=10).json()
    assert shown["image"] == blue_url and shown["images"] == [blue_url, red_url]
    assert shown["detail_images"] == [detail_url] and shown["description"] == "手工拉坯,容量 200 毫升。"
    assert shown["tags"] == ["新品", "包邮"] and shown["sort_weight"] == 5
    [sku] = shown["skus"]
    assert (sku["price"], sku["list_price"], sku["weight_g"], sku["spec"]) == (
        1990, 2990, 350, {"颜色": "红", "容量": "200毫升"})
    assert shown["specs"] == [{"name": "颜色", "values": ["红"]}, {"name": "容量", "values": ["200毫升"]}]

    page.locator("#images-list .thumbs li").nth(1).locator("button[data-act=remove]").click()  # red goes
    page.locator("#edit-form button[type=submit]").click()
    page.wait_for_url(f"{console_url}/console/products/{product['id']}")
    shown = requests.get(f"{console_url}/products/{product['id']}", timeout=10).json()
    assert shown["images"] == [blue_url] and shown["detail_images"] == [detail_url]  # the rest kept
    assert shown["description"] and shown["skus"][0]["list_price"] == 2990
    page.goto(f"{console_url}/console/products")  # the cover in the list
    assert page.locator(f"tr[data-product='{product['id']}'] img.thumb").get_attribute("src") == blue_url
    assert not violations, violations


def test_a_file_that_is_not_an_image_is_refused_on_the_page(browser_page, console_url, client, admin_headers,
                                                             shop, tmp_path):
    from tests.helpers import create_product

    page = browser_page
    product = create_product(client, admin_headers, price=990, stock=1, title="拒绝-" + uuid.uuid4().hex[:6])
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    owner_signs_in(page, console_url, f"/console/products/{product['id']}")
    page.set_input_files("#images-list input[type=file]", str(text))
    wait_until(lambda: "JPG" in page.inner_text("#images-list .upload-status"))
    assert thumbs(page, "#images-list") == []


def open_details(page, selector: str) -> None:
    """Open a <details> (the new-category form is open already when the tree is empty)."""
    if page.locator(selector).get_attribute("open") is None:
        page.click(f"{selector} summary")


def test_a_child_category_is_made_a_product_put_in_it_and_a_category_in_use_is_kept(
        browser_page, console_url, client, admin_headers, shop, tmp_path):
    from tests.helpers import create_product

    page = browser_page
    violations = csp_violations(page)
    tag = uuid.uuid4().hex[:4]
    product = create_product(client, admin_headers, price=990, stock=5, title="分类-" + tag)
    icon = tmp_path / "tea.png"
    icon.write_bytes(png((40, 160, 60)))
    owner_signs_in(page, console_url, "/console/categories")

    open_details(page, "#new-category")
    page.fill("#category-form input[name=name]", f"茶叶{tag}")
    page.fill("#category-form input[name=sort_weight]", "9")
    page.set_input_files("#category-form input[type=file]", str(icon))
    wait_until(lambda: len(thumbs(page, "#category-form")) == 1)
    page.click("#category-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/categories")
    tree = requests.get(f"{console_url}/categories", timeout=10).json()["items"]
    [top] = [c for c in tree if c["name"] == f"茶叶{tag}"]
    assert top["sort_weight"] == 9
    assert top["image_url"] and requests.get(top["image_url"], timeout=10).content == icon.read_bytes()

    open_details(page, "#new-category")
    page.fill("#category-form input[name=name]", f"红茶{tag}")
    page.select_option("#category-form select[name=parent_id]", top["id"])
    page.click("#category-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/categories")
    tree = requests.get(f"{console_url}/categories", timeout=10).json()["items"]
    [child] = [c for t in tree if t["id"] == top["id"] for c in t["children"]]
    assert child["name"] == f"红茶{tag}"
    assert f"茶叶{tag} / " in page.locator(f"tr[data-category='{child['id']}'] .name").inner_text()

    page.goto(f"{console_url}/console/products/{product['id']}")  # the product into the child
    page.select_option("#edit-form select[name=category_id]", child["id"])
    page.click("#edit-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/products/{product['id']}")
    shown = requests.get(f"{console_url}/products/{product['id']}", timeout=10).json()
    assert shown["category_id"] == child["id"] and shown["category"] == f"红茶{tag}"

    page.goto(f"{console_url}/console/categories")  # in use: kept, and the page says why
    with page.expect_response(f"{console_url}/console/categories/{child['id']}/delete") as answer:
        page.locator(f"tr[data-category='{child['id']}'] .delete-category button").click()
    assert answer.value.status == 409
    message = page.inner_text("#category-error")
    assert "仍有商品" in message and f"红茶{tag}" in message
    tree = requests.get(f"{console_url}/categories", timeout=10).json()["items"]
    assert child["id"] in [c["id"] for t in tree for c in t["children"]]

    page.locator(f"tr[data-category='{top['id']}'] .edit-category summary").click()  # renamed
    edit = page.locator(f"tr[data-category='{top['id']}'] .edit-category form")
    edit.locator("input[name=name]").fill(f"好茶{tag}")
    edit.locator("button[type=submit]").click()
    page.wait_for_url(f"{console_url}/console/categories")
    assert page.locator(f"tr[data-category='{top['id']}'] .name").inner_text() == f"好茶{tag}"

    page.goto(f"{console_url}/console/products/{product['id']}")  # out of the category: now it goes
    page.select_option("#edit-form select[name=category_id]", "")
    page.click("#edit-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/products/{product['id']}")
    page.goto(f"{console_url}/console/categories")
    page.locator(f"tr[data-category='{child['id']}'] .delete-category button").click()
    page.wait_for_url(f"{console_url}/console/categories")
    assert page.inner_text("#flash") == "已删除"
    assert page.dialogs[-1] == f"确认删除分类“红茶{tag}”?"  # asked first
    assert page.locator(f"tr[data-category='{child['id']}']").count() == 0
    assert not violations, violations


def test_a_product_made_from_the_list_takes_its_pictures_and_category(browser_page, console_url, client,
                                                                      admin_headers, shop, tmp_path):
    from tests.helpers import body, post

    page = browser_page
    tag = uuid.uuid4().hex[:4]
    top = body(post(client, "/admin/categories", {"name": f"器具{tag}"}, admin_headers))
    child = body(post(client, "/admin/categories", {"name": f"茶壶{tag}", "parent_id": top["id"]}, admin_headers))
    picture = tmp_path / "pot.png"
    picture.write_bytes(png((120, 80, 40)))
    owner_signs_in(page, console_url, "/console/products")
    page.click("#new-product summary")
    page.fill("#product-form input[name=title]", f"紫砂壶{tag}")
    page.set_input_files("#new-images-list input[type=file]", str(picture))
    wait_until(lambda: len(thumbs(page, "#new-images-list")) == 1)
    [url] = thumbs(page, "#new-images-list")
    page.select_option("#product-form select[name=category_id]", child["id"])
    page.fill("#product-form textarea[name=skus]", "128 5 容量:200毫升")
    page.click("#product-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/products")
    row = page.locator("#product-rows tr", has_text=f"紫砂壶{tag}")
    product_id = row.first.get_attribute("data-product")
    assert row.first.locator("img.thumb").get_attribute("src") == url
    shown = requests.get(f"{console_url}/products/{product_id}", timeout=10).json()
    assert shown["image"] == url and shown["category_id"] == child["id"] and shown["category"] == f"茶壶{tag}"
    assert shown["skus"][0]["price"] == 12800

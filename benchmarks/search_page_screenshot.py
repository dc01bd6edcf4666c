"""A screenshot of the search page for docs/results.md: an index of arXiv test papers (abstracts, with subject
and year as metadata) served by `embedlab serve`'s app, a query typed in Debian's chromium via Playwright.

    .venv/bin/python benchmarks/search_page_screenshot.py --model runs/arxiv-minilm/train/model \
        --splits runs/arxiv-minilm/data --papers 2000 --query "entanglement of quantum spin chains"
"""

from __future__ import annotations

import argparse
import shutil
import socket
import threading
import time

import uvicorn

from embedlab.apps.common import encode_texts
from embedlab.data.arxiv import load_split
from embedlab.data.chunks import chunking_for, rows_for_index
from embedlab.index import DocumentIndex
from embedlab.runtime.encoder import load_encoder
from embedlab.serve import ServeSettings, create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--splits", default="runs/arxiv-minilm/data")
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--query", default="entanglement of quantum spin chains")
    parser.add_argument("--where", default="")
    parser.add_argument("--out", default="docs/images/search-page.png")
    args = parser.parse_args()
    papers = load_split(args.splits, "test")[: args.papers]
    docs = [
        {
            "id": p["id"],
            "text": f"{p['title']}. {p['abstract']}",
            "subject": p["label"],
            "year": p.get("year"),
        }
        for p in papers
    ]
    encoder = load_encoder(args.model)
    rows = rows_for_index(docs, encoder, chunking_for(encoder.max_seq_length))
    index = DocumentIndex.build(
        encode_texts(encoder, [r["text"] for r in rows], "page"), rows, model=encoder.identity, bm25=True
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(ServeSettings(model=args.model), encoder=encoder, index=index)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/")
        page.keyboard.type(args.query)
        if args.where:
            page.fill("#where", args.where)
        page.keyboard.press("Enter")
        page.wait_for_selector("li.hit")
        page.screenshot(path=args.out, full_page=False)
        browser.close()
    server.should_exit = True
    print(f"{args.out}: {len(docs):,} papers in {len(rows):,} chunks, query {args.query!r}")


if __name__ == "__main__":
    main()

"""Query expansion for server search: what people say → the words catalogs use.

Each intent is a set of triggers (single words, matched after stemming, or phrases, matched in the
lower-cased query) and the vocabulary a catalog entry doing that job tends to use. A query that hits
a trigger gets those words added at a lower weight (`EXPANSION_WEIGHT`), so "post a message to my
team chat" also searches for slack, discord, channel, messaging. The table is about tasks and
domains, written from general knowledge; it is not keyed to any one catalog's entries.

Example:
    >>> sorted(expansions("what time is it in Tokyo"))[:3]
    ['clock', 'convert', 'current']
"""

from __future__ import annotations

import re

from meta_mcp.services.bm25 import WORD, stem

EXPANSION_WEIGHT = 0.7

# (triggers, catalog vocabulary). Triggers with a space are phrases; others are words.
INTENTS: list[tuple[str, str]] = [
    ("time clock timezone hour o'clock|time zone|what time", "time timezone clock convert current"),
    ("chat slack discord channel dm|team chat|group chat|chat room|direct message|post a message",
     "slack discord channel message messaging communication chat workspace"),
    ("email mail inbox e-mail gmail", "email gmail mail smtp imap send inbox"),
    ("sms phone telephone telephony|text message|phone call", "sms telephony phone call messaging"),
    ("google internet online|search the web|web search|look up online|latest news",
     "web search news internet brave duckduckgo"),
    ("webpage website url link page html|web page", "fetch url web page markdown content scrape website"),
    ("scrape scraping crawl crawler harvest|extract data", "scraping scrape crawl extract data web"),
    ("file files folder folders directory directories disk", "filesystem file directory folder read write"),
    ("commit commits branch diff repo repository history blame|version control", "git commit branch diff log repository"),
    ("pr|pull request|merge request|open source project", "github gitlab pull request repository issue"),
    ("remember recall memory forget memorize facts preference preferences|between conversations",
     "memory knowledge graph persistent entities observations remember"),
    ("think thinking reasoning reason|step by step|hard problem|break down", "sequential thinking problem reflective reasoning thought"),
    ("database db sql table tables rows query", "database sql query table"),
    ("postgres postgresql psql", "postgres postgresql database sql"),
    ("mysql mariadb", "mysql database sql"),
    ("weather forecast rain temperature sunny snow|will it rain", "weather forecast"),
    ("flight flights fly airline plane airport|plane ticket", "flights travel airport"),
    ("hotel stay accommodation lodging vacation rental apartment", "airbnb listing travel accommodation"),
    ("direction directions route navigate navigation location geocode nearby distance map|street address",
     "maps directions geocoding places route location navigation"),
    ("pod pods k8s kubernetes cluster deployment kubectl helm", "kubernetes kubectl pod cluster"),
    ("container containers docker image images", "docker container image"),
    ("pdf docx word powerpoint pptx spreadsheet excel xlsx convert document", "markdown conversion pdf docx convert document"),
    ("paper papers academic research scientific journal study studies preprint arxiv", "arxiv paper papers academic research"),
    ("video youtube transcript subtitle subtitles caption captions", "youtube transcript video"),
    ("click browser headless form button automate automation|fill out|fill in", "browser playwright puppeteer automation navigate click"),
    ("screenshot screenshots screen capture", "screenshot browser capture"),
    ("docs documentation library libraries framework reference sdk|api reference", "documentation docs library code"),
    ("aws amazon", "aws amazon"),
    ("bill billing spend spending cost costs budget expensive price pricing", "cost billing pricing budget explorer"),
    ("payment payments pay charge refund refunds subscription subscriptions checkout invoice invoices",
     "payments stripe invoice refund subscription payment"),
    ("note notes notebook journal|knowledge base|second brain", "notes notion obsidian wiki page knowledge"),
    ("ticket tickets bug bugs backlog sprint epic|issue tracker", "jira issue ticket project tracking"),
    ("wiki confluence|team wiki", "confluence wiki page"),
    ("encyclopedia wikipedia article articles", "wikipedia article summary"),
    ("translate translation translator language languages spanish french german chinese japanese",
     "translate translation language"),
    ("speech voice speak spoken narrate tts audio|text to speech|read aloud", "speech voice audio text elevenlabs"),
    ("draw drawing picture illustration art artwork logo|generate an image|create an image|make an image",
     "image generation generate art"),
    ("cve cves vulnerability vulnerabilities exploit cwe advisory", "vulnerability cve security nvd"),
    ("lint linter sast|static analysis|code quality|security bugs|security issues|insecure code",
     "code scan security analysis quality vulnerabilities sast"),
    ("error errors exception exceptions crash crashes stacktrace|stack trace|error report|error reports",
     "error issue sentry monitoring crash"),
    ("metric metrics cpu latency throughput alert alerts alerting", "metrics monitoring observability prometheus alerts"),
    ("log logs logging", "logs log query observability"),
    ("deploy deployment hosting ship release|host my app", "deploy app hosting platform"),
    ("cache caching|key value", "redis cache key value"),
    ("nosql|document store|document database", "mongodb document collection database"),
    ("iac infrastructure provision provisioning|infrastructure as code", "terraform infrastructure iac"),
    ("python notebook jupyter script execute interpreter|run code|execute code", "code execute python interpreter run notebook"),
    ("javascript js node nodejs typescript sandbox", "javascript node sandbox run code"),
    ("hn|hacker news|tech news", "hacker news stories"),
    ("subreddit reddit forum", "reddit subreddit posts"),
    ("stock stocks share shares trade trading portfolio broker brokerage invest investing", "trading stocks finance market portfolio"),
    ("bitcoin btc crypto cryptocurrency wallet blockchain ethereum nft token tokens|smart contract",
     "blockchain bitcoin crypto wallet token contract"),
    ("erc20 erc721 solidity|smart contract|token contract", "solidity contracts smart erc20 openzeppelin"),
    ("domain domains tld|domain name", "domain"),
    ("shorten shortener|short link|short url|long url", "url shortener link"),
    ("todo todos checklist|to-do|task list|to do list", "task tasks checklist todo project"),
    ("chart charts plot plots visualize visualization dashboard dashboards graph", "chart dashboard visualization data"),
    ("cypher neo4j|graph database|knowledge graph", "graph cypher neo4j database"),
    ("automate automation workflow workflows zapier", "workflow automation"),
    ("ci pipeline pipelines build builds flaky|continuous integration|failing tests", "ci pipeline build test"),
    ("mp4 mov transcode ffmpeg|convert video|video file|audio file", "ffmpeg video audio convert"),
    ("http curl|http request|api call|rest api", "curl http request api"),
    ("crm deal deals lead leads contact contacts|sales pipeline", "crm sales deals contacts leads"),
    ("huggingface|machine learning|ml model|ml models|dataset|datasets", "hugging face models datasets machine learning"),
    ("codebase|about this repo|about a repo|about the repo|repository's code|repo's code",
     "repository documentation wiki code question"),
    ("company companies prospect prospects prospecting firmographic|b2b", "business companies prospects data sales"),
    ("job jobs career hiring recruiter resume", "jobs linkedin career"),
    ("mower lawn mowing garden", "automower mower"),
    ("game games gaming|game engine", "games game engine"),
    ("math calculate calculation integral derivative equation compute arithmetic", "computational math wolfram query"),
    ("profile profiling profiler|flame graph", "profiling performance cpu"),
    ("maven gradle jar|java dependency|java library", "maven java dependencies jvm"),
    ("npm|node package|javascript package", "npm package"),
    ("ocr handwriting handwritten|scanned text", "ocr handwriting text document"),
    ("border crop resize thumbnail|edit an image", "image border"),
    ("sso okta identity login signin|users and groups", "identity access users groups okta authentication"),
    ("refugee refugees humanitarian displaced crisis aid famine", "humanitarian refugees hdx data"),
    ("port ports ip|open ports|ip address|exposed devices", "shodan host network scan ip"),
    ("avro kafka|schema registry", "kafka schema registry"),
    ("embedding embeddings vector vectors similarity|semantic search|vector database|vector store",
     "vector embeddings collection rag search chroma pinecone qdrant weaviate milvus"),
    ("shop shops shopping store ecommerce e-commerce product products retail|online shop|online store",
     "ecommerce product products marketplace shopping amazon"),
    ("firewall intrusion", "firewall network security"),
    ("upload dropbox|cloud storage|share files|shared drive", "box storage files upload folder"),
    ("s3 bucket buckets blob|object storage", "s3 bucket storage object"),
    ("mock mocks mocking stub stubs|fake api|simulate an api", "mock mocking simulation virtualization http"),
    ("graphql", "graphql query schema"),
    ("bet betting odds wager|prediction market|prediction markets", "prediction markets forecasting"),
    ("iot sensor sensors telemetry|smart device|smart devices", "iot device telemetry"),
    ("patient patients medical clinic doctor ehr|health record|health records", "ehr medical patient health"),
    ("azure microsoft", "azure"),
    ("google cloud gcp", "cloud run google"),
]




def _compile() -> list[tuple[frozenset[str], tuple[re.Pattern[str], ...], tuple[str, ...]]]:
    table = []
    for triggers, vocabulary in INTENTS:
        words: set[str] = set()
        phrases: list[re.Pattern[str]] = []
        for part in triggers.split("|"):
            part = part.strip()
            if not part:
                continue
            if part == triggers.split("|")[0].strip():  # the first segment: space-separated single words
                words.update(stem(w) for w in WORD.findall(part))
            else:
                phrases.append(re.compile(r"\b" + re.escape(part) + r"\b"))
        table.append((frozenset(words), tuple(phrases), tuple(vocabulary.split())))
    return table


_TABLE = _compile()


def expansions(query: str, stems: set[str] | None = None) -> set[str]:
    """Catalog words (unstemmed) implied by `query`; `stems` are its stemmed tokens if already known."""
    lowered = query.lower()
    if stems is None:
        stems = {stem(w) for w in WORD.findall(lowered)}
    out: set[str] = set()
    for words, phrases, vocabulary in _TABLE:
        if words & stems or any(p.search(lowered) for p in phrases):
            out.update(vocabulary)
    return out

"""The cold-start baseline: a Streamlit app as most people write it by hand around the
LangChain pipeline (models loaded at the top through ``st.cache_resource``, then the page).

Run by the benchmark as ``python -m streamlit run bench/baseline_app.py``; the FAISS index
saved by the baseline's ingest is in ``$BENCH_INDEX_DIR`` (optional).
"""

from __future__ import annotations

import os

import streamlit as st
from langchain_community.llms import LlamaCpp
from langchain_community.vectorstores import FAISS
from langchain_huggingface import HuggingFaceEmbeddings

from bench.baseline import PROMPT, gguf_path, minilm_path

st.set_page_config(page_title="Chat with your documents")


@st.cache_resource
def load_embeddings() -> HuggingFaceEmbeddings:
    return HuggingFaceEmbeddings(model_name=minilm_path())


@st.cache_resource
def load_llm() -> LlamaCpp:
    return LlamaCpp(model_path=gguf_path(), n_ctx=2048, n_threads=os.cpu_count(),
                    max_tokens=384, temperature=0.2, verbose=False)


@st.cache_resource
def load_store(index_dir: str) -> FAISS:
    return FAISS.load_local(index_dir, load_embeddings(), allow_dangerous_deserialization=True)


embeddings = load_embeddings()
llm = load_llm()
index_dir = os.environ.get("BENCH_INDEX_DIR", "")
store = load_store(index_dir) if index_dir and os.path.isdir(index_dir) else None

with st.sidebar:
    st.header("Documents")
    st.file_uploader("Upload PDF or text files", type=["pdf", "txt", "md"],
                     accept_multiple_files=True)
    st.caption(f"{store.index.ntotal if store else 0} chunks indexed")

st.title("Chat with your documents")
question = st.chat_input("Ask a question about your documents")
if question and store is not None:
    with st.chat_message("user"):
        st.write(question)
    documents = store.similarity_search(question, k=4)
    context = "\n\n".join(d.page_content for d in documents)
    with st.chat_message("assistant"):
        st.write_stream(llm.stream(PROMPT.format(context=context, question=question)))

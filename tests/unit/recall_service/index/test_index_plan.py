from recall_service.index.plan import choose_index, is_lite_version


def test_milvus_lite_gets_exact_flat_and_a_server_gets_hnsw_with_ef_above_k() -> None:
    assert is_lite_version("milvus_lite-3.2.2")
    assert not is_lite_version("v2.5.4")

    lite = choose_index(lite=True)
    server = choose_index(lite=False)

    assert lite.index_type == "FLAT" and lite.search_params(100) == {}
    assert server.index_type == "HNSW"
    assert server.search_params(100)["ef"] >= 100
    assert server.search_params(5)["ef"] >= 5


def test_a_wider_hnsw_search_asks_for_a_larger_ef() -> None:
    server = choose_index(lite=False)
    wider = server.model_copy(update={"ef_per_k": server.ef_per_k * 2})

    assert wider.search_params(100)["ef"] == 2 * server.search_params(100)["ef"]

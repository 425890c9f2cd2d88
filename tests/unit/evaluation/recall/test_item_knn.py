from evaluation.recall.item_knn import item_knn_lists


def test_item_knn_proposes_unseen_items_that_co_occur_with_the_users_positives() -> None:
    train = {1: [10, 11], 2: [10, 11, 12], 3: [10, 13], 4: [13, 14]}

    lists = item_knn_lists(train, users=[1, 4, 99], seen={1: {10, 11}, 4: {13, 14}}, k=3)

    # User 1: 12 co-occurs with 10 and with 11 (1/sqrt(3) + 1/sqrt(2)) and beats 13, which
    # co-occurs with 10 only (1/sqrt(6)); 14 never meets 10 or 11. User 99 has no positives.
    assert lists[0] == [12, 13]
    assert lists[1] == [10]
    assert lists[2] == []

from segassist.warehouse.language import detect_language


def test_detects_the_three_languages_of_the_product():
    assert detect_language("The strings broke after a week, very disappointed.") == "en"
    assert detect_language("Produto chegou antes do prazo, muito bom, recomendo.") == "pt"
    assert detect_language("这个吉他的音色非常好，物流也很快。") == "zh"


def test_short_or_empty_text_gets_the_data_sets_language():
    assert detect_language("", default="pt") == "pt"
    assert detect_language(None) == "und"
    assert detect_language("ok!!", default="en") == "en"


QUESTIONS = {
    "en": [
        "How many orders were cancelled?",
        "How many distinct customers are there?",
        "Which month had the most revenue?",
        "What is the average rating per product category?",
        "List the top 5 customers by spend in 2011",
        "Who bought the most units last year?",
        "Show customers in the at-risk segment",
        "What did customer 12346 spend in total?",
        "There are 9,920 customers.",
        "The number of cancelled orders is 625.",
    ],
    "pt": [
        "Quantos pedidos foram cancelados?",
        "Quantos clientes distintos existem?",
        "Qual estado tem mais clientes?",
        "Qual foi a receita total em 2017?",
        "Liste os 5 produtos mais vendidos",
        "Quais categorias tiveram a menor nota media?",
        "Quantas avaliacoes com nota 1 existem por mes?",
        "Mostre os clientes do segmento em risco",
        "Foram cancelados 625 pedidos.",
        "Existem 9.920 clientes distintos.",
    ],
    "zh": ["有多少订单被取消了？", "每个州有多少客户？", "共有 9,920 位客户。"],
}


def test_questions_and_answers_about_the_data_are_recognised():
    """Questions (and answers) use the data's vocabulary more than review words: each one
    in its language, with or without accents."""
    wrong = [
        (text, language, detect_language(text))
        for language, texts in QUESTIONS.items()
        for text in texts
        if detect_language(text) != language
    ]
    assert wrong == []

package androidx.activity.result.contract

import android.net.Uri

// androidx.activity:activity 1.12 (Kotlin), ActivityResultContract and the contracts the app
// uses, with the real input/output types (their nullability is what the callbacks see).
abstract class ActivityResultContract<I, O>

class ActivityResultContracts private constructor() {
    open class GetContent : ActivityResultContract<String, Uri?>()

    open class OpenMultipleDocuments : ActivityResultContract<Array<String>, List<@JvmSuppressWildcards Uri>>()

    open class CreateDocument(private val mimeType: String) : ActivityResultContract<String, Uri?>()

    class RequestPermission : ActivityResultContract<String, Boolean>()
}
